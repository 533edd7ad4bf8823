//! Decoding, encoding and resizing of single RGB frames. Frames are 8-bit RGB, interleaved,
//! row-major: `data[(y * width + x) * 3 + c]`, the layout frames keep in a pack.

use std::path::Path;

use crate::error::{Error, Result};

/// One decoded frame, (H, W, 3) u8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Frame {
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<Frame> {
        if data.len() != width * height * 3 {
            return Err(Error::shape(
                "frame",
                format!(
                    "{width}x{height} RGB needs {} bytes, got {}",
                    width * height * 3,
                    data.len()
                ),
            ));
        }
        Ok(Frame { width, height, data })
    }

    pub fn black(width: usize, height: usize) -> Frame {
        Frame {
            width,
            height,
            data: vec![0; width * height * 3],
        }
    }
}

/// How frames are resized when a target size differs from the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Interp {
    /// Bilinear on pixel centres (the reference's effective choice, see its notes §9.7).
    #[default]
    Bilinear,
    Nearest,
}

/// Decodes an image file to RGB. Grey or RGBA images are converted (the reference assumed RGB
/// without checking). Any failure is an error naming the file.
pub fn load_rgb(path: &Path) -> Result<Frame> {
    let img = image::open(path).map_err(|e| Error::data(path, format!("cannot decode image: {e}")))?;
    let rgb = img.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    Frame::new(w, h, rgb.into_raw())
}

/// Reads only the header to get (width, height).
pub fn image_size(path: &Path) -> Result<(usize, usize)> {
    let (w, h) = image::image_dimensions(path).map_err(|e| Error::data(path, format!("cannot read image: {e}")))?;
    Ok((w as usize, h as usize))
}

/// Writes a frame as PNG (lossless, so a PNG round trip is bit-exact).
pub fn save_png(path: &Path, frame: &Frame) -> Result<()> {
    image::save_buffer_with_format(
        path,
        &frame.data,
        frame.width as u32,
        frame.height as u32,
        image::ColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::data(path, format!("cannot write PNG: {e}")))
}

/// Source coordinate and weight of a bilinear tap along one axis: output pixel `o` of `dst`
/// samples at `(o + 0.5) * src / dst - 0.5` (pixel centres aligned, like PIL and
/// `align_corners=False`), clamped to the image. Returns (i0, i1, weight of i1).
pub fn bilinear_tap(o: usize, src: usize, dst: usize) -> (usize, usize, f32) {
    let s = ((o as f32 + 0.5) * src as f32 / dst as f32 - 0.5).clamp(0.0, (src - 1) as f32);
    let i0 = s.floor() as usize;
    let i1 = (i0 + 1).min(src - 1);
    (i0, i1, s - i0 as f32)
}

/// Nearest source index for output pixel `o`: the pixel containing the sample point.
pub fn nearest_tap(o: usize, src: usize, dst: usize) -> usize {
    (((o as f32 + 0.5) * src as f32 / dst as f32) as usize).min(src - 1)
}

/// Resizes to exactly `width` x `height` (aspect ratio not kept, like the reference). Same size
/// returns a copy, so packing at native size is bit-exact.
pub fn resize(frame: &Frame, width: usize, height: usize, interp: Interp) -> Frame {
    if frame.width == width && frame.height == height {
        return frame.clone();
    }
    if frame.width == 0 || frame.height == 0 {
        return Frame::black(width, height);
    }
    let mut out = vec![0u8; width * height * 3];
    let src = &frame.data;
    let sw = frame.width;
    for y in 0..height {
        for x in 0..width {
            let o = (y * width + x) * 3;
            match interp {
                Interp::Nearest => {
                    let i = (nearest_tap(y, frame.height, height) * sw + nearest_tap(x, sw, width)) * 3;
                    out[o..o + 3].copy_from_slice(&src[i..i + 3]);
                }
                Interp::Bilinear => {
                    let (y0, y1, fy) = bilinear_tap(y, frame.height, height);
                    let (x0, x1, fx) = bilinear_tap(x, sw, width);
                    for c in 0..3 {
                        let p = |yy: usize, xx: usize| src[(yy * sw + xx) * 3 + c] as f32;
                        let top = p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx;
                        let bottom = p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx;
                        out[o + c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
                    }
                }
            }
        }
    }
    Frame {
        width,
        height,
        data: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_upscale_of_two_pixels_by_hand() {
        // One row, two pixels 0 and 200, upscaled to 4: sample points -0.25, 0.25, 0.75, 1.25
        // -> clamped 0, 0.25, 0.75, 1 -> values 0, 50, 150, 200.
        let f = Frame::new(2, 1, vec![0, 0, 0, 200, 200, 200]).unwrap();
        let r = resize(&f, 4, 1, Interp::Bilinear);
        let reds: Vec<u8> = r.data.chunks(3).map(|p| p[0]).collect();
        assert_eq!(reds, vec![0, 50, 150, 200]);
        let n = resize(&f, 4, 1, Interp::Nearest);
        let reds: Vec<u8> = n.data.chunks(3).map(|p| p[0]).collect();
        assert_eq!(reds, vec![0, 0, 200, 200]);
    }

    #[test]
    fn bilinear_downscale_by_two_averages_pairs() {
        // 4 -> 2: sample points 0.5 and 2.5, the mean of each pair.
        let f = Frame::new(4, 1, [10u8, 30, 100, 200].iter().flat_map(|&v| [v, v, v]).collect()).unwrap();
        let r = resize(&f, 2, 1, Interp::Bilinear);
        assert_eq!(r.data, vec![20, 20, 20, 150, 150, 150]);
    }
}

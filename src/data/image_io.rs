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
    /// Bilinear on pixel centres, anti-aliased when shrinking (a triangle filter widened by the
    /// shrink factor, as PIL's BILINEAR: the reference's effective choice, its notes §9.7).
    /// The per-clip resize inside augmentation is plain 2x2 bilinear (it is near 1:1 there).
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

/// The source pixels and normalised weights behind each output pixel along one axis, for a
/// triangle (bilinear) filter whose support widens with the shrink factor: plain bilinear when
/// enlarging, an anti-aliasing average when shrinking. This is how PIL resizes with BILINEAR,
/// which the reference effectively used; plain 2x2 bilinear would alias when e.g. 265-pixel
/// faces are shrunk to 72.
fn triangle_taps(src: usize, dst: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = src as f64 / dst as f64;
    let widen = scale.max(1.0);
    let support = widen;
    (0..dst)
        .map(|o| {
            let centre = (o as f64 + 0.5) * scale;
            let lo = ((centre - support + 0.5).floor().max(0.0)) as usize;
            let hi = ((centre + support + 0.5).floor() as usize).min(src);
            let mut w: Vec<f64> = (lo..hi)
                .map(|i| (1.0 - ((i as f64 - centre + 0.5) / widen).abs()).max(0.0))
                .collect();
            let total: f64 = w.iter().sum();
            if total > 0.0 {
                w.iter_mut().for_each(|x| *x /= total);
            }
            (lo, w.into_iter().map(|x| x as f32).collect())
        })
        .collect()
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
    let (sw, sh) = (frame.width, frame.height);
    let src = &frame.data;
    let mut out = vec![0u8; width * height * 3];
    match interp {
        Interp::Nearest => {
            for y in 0..height {
                for x in 0..width {
                    let i = (nearest_tap(y, sh, height) * sw + nearest_tap(x, sw, width)) * 3;
                    out[(y * width + x) * 3..][..3].copy_from_slice(&src[i..i + 3]);
                }
            }
        }
        Interp::Bilinear => {
            // Separable: rows first into floats (sh, width, 3), then columns, rounding once.
            let xt = triangle_taps(sw, width);
            let yt = triangle_taps(sh, height);
            let mut rows = vec![0f32; sh * width * 3];
            for y in 0..sh {
                for (x, (lo, w)) in xt.iter().enumerate() {
                    for c in 0..3 {
                        let acc: f32 = w
                            .iter()
                            .enumerate()
                            .map(|(k, wk)| wk * src[(y * sw + lo + k) * 3 + c] as f32)
                            .sum();
                        rows[(y * width + x) * 3 + c] = acc;
                    }
                }
            }
            for (y, (lo, w)) in yt.iter().enumerate() {
                for x in 0..width {
                    for c in 0..3 {
                        let acc: f32 = w
                            .iter()
                            .enumerate()
                            .map(|(k, wk)| wk * rows[((lo + k) * width + x) * 3 + c])
                            .sum();
                        out[(y * width + x) * 3 + c] = acc.round().clamp(0.0, 255.0) as u8;
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
    fn bilinear_downscale_filters_over_the_widened_support() {
        // 4 -> 2, shrink factor 2: the triangle filter is 2 pixels wide each side. Output 0 is
        // centred at 1.0 and covers pixels 0, 1, 2 with weights 0.75, 0.75, 0.25 (sum 1.75):
        // (10 * 0.75 + 30 * 0.75 + 100 * 0.25) / 1.75 = 31.43 -> 31. Output 1 (centre 3.0) covers
        // pixels 1, 2, 3 with 0.25, 0.75, 0.75: (7.5 + 75 + 150) / 1.75 = 132.86 -> 133.
        let f = Frame::new(4, 1, [10u8, 30, 100, 200].iter().flat_map(|&v| [v, v, v]).collect()).unwrap();
        let r = resize(&f, 2, 1, Interp::Bilinear);
        assert_eq!(r.data, vec![31, 31, 31, 133, 133, 133]);
    }

    #[test]
    fn uniform_images_stay_uniform_at_any_scale() {
        let f = Frame::new(37, 23, vec![77; 37 * 23 * 3]).unwrap();
        for (w, h) in [(8, 5), (72, 72), (36, 50), (1, 1)] {
            assert!(
                resize(&f, w, h, Interp::Bilinear).data.iter().all(|&v| v == 77),
                "{w}x{h}"
            );
        }
    }
}

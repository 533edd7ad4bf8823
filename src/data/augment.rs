//! Clip augmentation, identical for every frame of a clip and deterministic per
//! (seed, epoch, video): horizontal flip, rotation, resize + crop, chained colour jitter,
//! normalisation. Evaluation uses the same path with resize + centre crop only.
//!
//! The geometric steps (flip -> rotate (nearest, black corners) -> resize -> crop) are composed
//! into one table of bilinear taps into the source frame, built once per clip and applied to each
//! of its frames: no intermediate images, and the same result as running the steps in order
//! except that the resized image is not rounded to u8 in between.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use crate::data::color::Jitter;
use crate::data::image_io::{bilinear_tap, nearest_tap, Interp};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// (width, height) every frame is resized to (after flip and rotation), aspect not kept.
    pub resize: (usize, usize),
    /// (width, height) of the crop taken from the resized frame: the model's input size.
    pub crop: (usize, usize),
    pub interp: Interp,
    /// Horizontal flip with probability 0.5.
    pub flip: bool,
    /// Rotation angle drawn uniformly in [-max, max] degrees; 0 disables.
    pub max_rotation_deg: f32,
    /// Jitter strengths: factors drawn in [1-b, 1+b], [1-c, 1+c], [1-s, 1+s], hue shift in [-h, h]
    /// (fraction of the colour wheel, at most 0.5). 0 disables that adjustment.
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
    /// Per-channel (R, G, B) normalisation of values in [0, 1]: (v - mean) / std.
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// The reference's per-channel mean (AFEW faces), applied with std 1.
pub const REFERENCE_MEAN: [f32; 3] = [0.2572, 0.2000, 0.1644];

/// About the pixel standard deviation of the synthetic benchmark's frames (per channel, on the
/// [0, 1] scale, ~0.19-0.21): dividing by it after subtracting the mean gives unit-scale inputs.
pub const SYNTH_STD: [f32; 3] = [0.2; 3];

impl AugmentConfig {
    /// The reference's training augmentation: resize 256x256, crop 224, flip, ±20°, jitter
    /// (0.2, 0.2, 0.2, 0.1), mean subtraction with std 1.
    pub fn reference() -> AugmentConfig {
        AugmentConfig::scaled(256, 224)
    }

    /// The reference recipe at another scale (e.g. 72 -> 64 for small CPU models).
    pub fn scaled(resize: usize, crop: usize) -> AugmentConfig {
        AugmentConfig {
            resize: (resize, resize),
            crop: (crop, crop),
            interp: Interp::Bilinear,
            flip: true,
            max_rotation_deg: 20.0,
            brightness: 0.2,
            contrast: 0.2,
            saturation: 0.2,
            hue: 0.1,
            mean: REFERENCE_MEAN,
            std: [1.0; 3],
        }
    }

    /// No augmentation at all: frames of `width` x `height` come out as values / 255.
    pub fn identity(width: usize, height: usize) -> AugmentConfig {
        AugmentConfig {
            resize: (width, height),
            crop: (width, height),
            flip: false,
            max_rotation_deg: 0.0,
            brightness: 0.0,
            contrast: 0.0,
            saturation: 0.0,
            hue: 0.0,
            mean: [0.0; 3],
            std: [1.0; 3],
            ..AugmentConfig::scaled(width, width)
        }
    }

    pub fn validate(&self) -> Result<()> {
        let (rw, rh) = self.resize;
        let (cw, ch) = self.crop;
        if cw == 0 || ch == 0 || cw > rw || ch > rh {
            return Err(Error::argument(
                "augment",
                format!("crop {cw}x{ch} must be non-empty and fit in resize {rw}x{rh}"),
            ));
        }
        if !(0.0..=180.0).contains(&self.max_rotation_deg) {
            return Err(Error::argument("augment", "max_rotation_deg must lie in [0, 180]"));
        }
        if self.std.iter().any(|&s| s <= 0.0 || !s.is_finite()) {
            return Err(Error::argument("augment", "std must be positive"));
        }
        let strengths = [self.brightness, self.contrast, self.saturation];
        if strengths.iter().any(|&s| !(0.0..=1.0).contains(&s)) || !(0.0..=0.5).contains(&self.hue) {
            return Err(Error::argument(
                "augment",
                "jitter strengths must lie in [0, 1] (hue in [0, 0.5])",
            ));
        }
        Ok(())
    }

    /// The normalised value of a black pixel, which is what black padding frames become.
    pub fn black_value(&self, c: usize) -> f32 {
        (0.0 - self.mean[c]) / self.std[c]
    }
}

/// The random draws of one clip's augmentation.
#[derive(Clone, Debug, PartialEq)]
pub struct AugParams {
    pub flip: bool,
    pub angle_deg: f32,
    /// Top-left corner of the crop in the resized frame.
    pub crop_x: usize,
    pub crop_y: usize,
    /// Adjustments in the order applied (chained: each sees the previous one's output), with
    /// their factor (hue: shift).
    pub jitter: Vec<(Jitter, f32)>,
}

/// A seed for one (seed, epoch, video) triple: a splitmix64 chain, so nearby triples give
/// unrelated streams.
pub fn mix_seed(seed: u64, epoch: u64, video: u64) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    splitmix(splitmix(splitmix(seed) ^ epoch) ^ video)
}

impl AugParams {
    /// Training draws for `video` in `epoch`: the same arguments always give the same clip.
    pub fn draw(cfg: &AugmentConfig, seed: u64, epoch: u64, video: u64) -> AugParams {
        let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(seed, epoch, video));
        let flip = cfg.flip && rng.gen_bool(0.5);
        // Out-of-range settings (rejected later by `ClipTransform::new`) must not panic here.
        let max_angle = cfg.max_rotation_deg;
        let angle_deg = if max_angle > 0.0 && max_angle.is_finite() {
            rng.gen_range(-max_angle..=max_angle)
        } else {
            0.0
        };
        let crop_x = rng.gen_range(0..=cfg.resize.0.saturating_sub(cfg.crop.0));
        let crop_y = rng.gen_range(0..=cfg.resize.1.saturating_sub(cfg.crop.1));
        let mut jitter = Vec::new();
        for (kind, s) in [
            (Jitter::Brightness, cfg.brightness),
            (Jitter::Contrast, cfg.contrast),
            (Jitter::Saturation, cfg.saturation),
            (Jitter::Hue, cfg.hue),
        ] {
            if s > 0.0 && s.is_finite() {
                let centre = if kind == Jitter::Hue { 0.0 } else { 1.0 };
                jitter.push((kind, rng.gen_range(centre - s..=centre + s)));
            }
        }
        // Random order, like torchvision's ColorJitter, but all four applied (the reference's
        // vendored copy keeps only the last one by mistake).
        for i in (1..jitter.len()).rev() {
            jitter.swap(i, rng.gen_range(0..=i));
        }
        AugParams {
            flip,
            angle_deg,
            crop_x,
            crop_y,
            jitter,
        }
    }

    /// Evaluation: no flip, rotation or jitter; centre crop (offset 16 for 256 -> 224).
    pub fn eval(cfg: &AugmentConfig) -> AugParams {
        AugParams {
            flip: false,
            angle_deg: 0.0,
            crop_x: cfg.resize.0.saturating_sub(cfg.crop.0) / 2,
            crop_y: cfg.resize.1.saturating_sub(cfg.crop.1) / 2,
            jitter: Vec::new(),
        }
    }
}

/// Marks a tap that falls outside the rotated image (a black corner).
const BLACK: u32 = u32::MAX;

/// For each output pixel, four source byte offsets (or BLACK) and their bilinear weights.
#[derive(Clone, Copy, Debug)]
struct Tap {
    idx: [u32; 4],
    w: [f32; 4],
}

/// One clip's augmentation made concrete for a source frame size.
pub struct ClipTransform {
    cfg: AugmentConfig,
    params: AugParams,
    taps: Vec<Tap>,
    src_len: usize,
}

impl ClipTransform {
    pub fn new(cfg: &AugmentConfig, params: &AugParams, src_w: usize, src_h: usize) -> Result<ClipTransform> {
        cfg.validate()?;
        if src_w == 0 || src_h == 0 || src_w * src_h * 3 >= BLACK as usize {
            return Err(Error::argument(
                "augment",
                format!("unsupported source frame size {src_w}x{src_h}"),
            ));
        }
        let (rw, rh) = cfg.resize;
        let (cw, ch) = cfg.crop;
        if params.crop_x + cw > rw || params.crop_y + ch > rh {
            return Err(Error::argument("augment", "crop offset outside the resized frame"));
        }
        let (sin, cos) = params.angle_deg.to_radians().sin_cos();
        let (cx, cy) = (src_w as f32 / 2.0, src_h as f32 / 2.0);
        // Flip then rotate: pixel (px, py) of the rotated image takes the nearest pixel of the
        // flipped image at the inversely rotated centre point; black outside.
        let rotated_src = |px: usize, py: usize| -> u32 {
            let (mut sx, mut sy) = (px as isize, py as isize);
            if params.angle_deg != 0.0 {
                let (dx, dy) = (px as f32 + 0.5 - cx, py as f32 + 0.5 - cy);
                sx = (cos * dx - sin * dy + cx).floor() as isize;
                sy = (sin * dx + cos * dy + cy).floor() as isize;
                if sx < 0 || sy < 0 || sx >= src_w as isize || sy >= src_h as isize {
                    return BLACK;
                }
            }
            let sx = if params.flip {
                src_w - 1 - sx as usize
            } else {
                sx as usize
            };
            ((sy as usize * src_w + sx) * 3) as u32
        };
        let mut taps = Vec::with_capacity(cw * ch);
        for oy in 0..ch {
            for ox in 0..cw {
                let (rx, ry) = (ox + params.crop_x, oy + params.crop_y);
                let tap = match cfg.interp {
                    Interp::Nearest => Tap {
                        idx: [
                            rotated_src(nearest_tap(rx, src_w, rw), nearest_tap(ry, src_h, rh)),
                            BLACK,
                            BLACK,
                            BLACK,
                        ],
                        w: [1.0, 0.0, 0.0, 0.0],
                    },
                    Interp::Bilinear => {
                        let (x0, x1, fx) = bilinear_tap(rx, src_w, rw);
                        let (y0, y1, fy) = bilinear_tap(ry, src_h, rh);
                        Tap {
                            idx: [
                                rotated_src(x0, y0),
                                rotated_src(x1, y0),
                                rotated_src(x0, y1),
                                rotated_src(x1, y1),
                            ],
                            w: [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy],
                        }
                    }
                };
                taps.push(tap);
            }
        }
        Ok(ClipTransform {
            cfg: cfg.clone(),
            params: params.clone(),
            taps,
            src_len: src_w * src_h * 3,
        })
    }

    pub fn config(&self) -> &AugmentConfig {
        &self.cfg
    }

    /// Output pixels per frame (crop width x height).
    pub fn plane(&self) -> usize {
        self.taps.len()
    }

    /// Transforms one (H, W, 3) u8 frame into three planes `out[c * stride + i]`, i over the
    /// crop's pixels; `stride` is the distance between channel planes (F * crop pixels for a
    /// (3, F, H, W) clip). `rgb` is scratch of 3 * plane floats.
    pub fn apply(&self, src: &[u8], out: &mut [f32], stride: usize, rgb: &mut Vec<f32>) -> Result<()> {
        if src.len() != self.src_len {
            return Err(Error::shape(
                "augment",
                format!("frame of {} bytes, expected {}", src.len(), self.src_len),
            ));
        }
        let plane = self.taps.len();
        if out.len() < 2 * stride + plane {
            return Err(Error::shape(
                "augment",
                "output slice too short for three channel planes",
            ));
        }
        rgb.clear();
        rgb.resize(plane * 3, 0.0);
        for (i, tap) in self.taps.iter().enumerate() {
            let mut acc = [0.0f32; 3];
            for k in 0..4 {
                if tap.idx[k] != BLACK && tap.w[k] != 0.0 {
                    let b = tap.idx[k] as usize;
                    for c in 0..3 {
                        acc[c] += tap.w[k] * src[b + c] as f32;
                    }
                }
            }
            for c in 0..3 {
                rgb[i * 3 + c] = acc[c] / 255.0;
            }
        }
        for &(kind, f) in &self.params.jitter {
            crate::data::color::apply_jitter(kind, f, rgb);
        }
        for c in 0..3 {
            let (m, s) = (self.cfg.mean[c], self.cfg.std[c]);
            let dst = &mut out[c * stride..c * stride + plane];
            for (i, d) in dst.iter_mut().enumerate() {
                *d = (rgb[i * 3 + c] - m) / s;
            }
        }
        Ok(())
    }

    /// Writes a black (padding) frame: black stays black through every step, then normalised.
    pub fn apply_black(&self, out: &mut [f32], stride: usize) -> Result<()> {
        let plane = self.taps.len();
        if out.len() < 2 * stride + plane {
            return Err(Error::shape(
                "augment",
                "output slice too short for three channel planes",
            ));
        }
        for c in 0..3 {
            out[c * stride..c * stride + plane].fill(self.cfg.black_value(c));
        }
        Ok(())
    }
}

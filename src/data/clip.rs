//! Clips: F consecutive frames of a video from a start t, padded when the video is too short,
//! transformed into an f32 (3, F, H, W) tensor.

use serde::{Deserialize, Serialize};

use crate::data::augment::{AugParams, AugmentConfig, ClipTransform};
use crate::data::source::VideoSource;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// What fills the clip positions past a video's last frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Padding {
    /// Black frames at the end, as the reference (they become -mean/std after normalisation).
    #[default]
    Black,
    /// Repeat the last frame.
    RepeatLast,
    /// Start again from frame 0.
    Loop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipSpec {
    /// Frames per clip (F), 16 in the paper.
    pub len: usize,
    pub padding: Padding,
}

impl Default for ClipSpec {
    fn default() -> Self {
        ClipSpec {
            len: 16,
            padding: Padding::Black,
        }
    }
}

/// Which source frame fills each of the clip's F positions (`None`: a black padding frame).
/// `start` must be a frame of the video; positions past the end are padded.
pub fn clip_frame_indices(video_len: usize, start: usize, spec: ClipSpec) -> Result<Vec<Option<usize>>> {
    if spec.len == 0 {
        return Err(Error::argument("clip", "clip length must be at least 1"));
    }
    if start >= video_len {
        return Err(Error::argument(
            "clip",
            format!("start {start} outside a video of {video_len} frames"),
        ));
    }
    Ok((start..start + spec.len)
        .map(|t| {
            if t < video_len {
                Some(t)
            } else {
                match spec.padding {
                    Padding::Black => None,
                    Padding::RepeatLast => Some(video_len - 1),
                    Padding::Loop => Some(t % video_len),
                }
            }
        })
        .collect())
}

/// Reads and transforms one clip into `out`, laid out (3, F, crop_h, crop_w).
pub fn read_clip_into(
    source: &dyn VideoSource,
    video: usize,
    start: usize,
    spec: ClipSpec,
    transform: &ClipTransform,
    out: &mut [f32],
) -> Result<()> {
    let meta = source
        .videos()
        .get(video)
        .ok_or_else(|| Error::argument("clip", format!("video {video} out of range")))?;
    let plane = transform.plane();
    let stride = spec.len * plane;
    if out.len() != 3 * stride {
        return Err(Error::shape(
            "clip",
            format!("output of {} floats, expected {}", out.len(), 3 * stride),
        ));
    }
    let mut scratch = Vec::new();
    let mut rgb = Vec::new();
    for (k, t) in clip_frame_indices(meta.frames, start, spec)?.into_iter().enumerate() {
        let dst = &mut out[k * plane..];
        match t {
            Some(t) => {
                let frame = source.frame(video, t, &mut scratch)?;
                transform.apply(frame, dst, stride, &mut rgb)?;
            }
            None => transform.apply_black(dst, stride)?,
        }
    }
    Ok(())
}

/// One clip as an f32 (3, F, H, W) tensor, with the given augmentation draws.
pub fn read_clip(
    source: &dyn VideoSource,
    video: usize,
    start: usize,
    spec: ClipSpec,
    cfg: &AugmentConfig,
    params: &AugParams,
) -> Result<Tensor> {
    let meta = source
        .videos()
        .get(video)
        .ok_or_else(|| Error::argument("clip", format!("video {video} out of range")))?;
    let transform = ClipTransform::new(cfg, params, meta.width, meta.height)?;
    let (w, h) = cfg.crop;
    let mut data = vec![0f32; 3 * spec.len * h * w];
    read_clip_into(source, video, start, spec, &transform, &mut data)?;
    Tensor::from_vec(&[3, spec.len, h, w], data)
}

/// A whole video as one (3, T, H, W) tensor with the evaluation transform (resize + centre crop,
/// normalisation), T = its frame count: the input of dense sliding-window inference, which
/// (like the reference) never pads.
pub fn read_video(source: &dyn VideoSource, video: usize, cfg: &AugmentConfig) -> Result<Tensor> {
    let frames = source
        .videos()
        .get(video)
        .ok_or_else(|| Error::argument("clip", format!("video {video} out of range")))?
        .frames;
    let spec = ClipSpec {
        len: frames,
        padding: Padding::Black,
    };
    read_clip(source, video, 0, spec, cfg, &AugParams::eval(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_modes() {
        let spec = |padding| ClipSpec { len: 6, padding };
        assert_eq!(
            clip_frame_indices(4, 0, spec(Padding::Black)).unwrap(),
            vec![Some(0), Some(1), Some(2), Some(3), None, None]
        );
        assert_eq!(
            clip_frame_indices(4, 0, spec(Padding::RepeatLast)).unwrap(),
            vec![Some(0), Some(1), Some(2), Some(3), Some(3), Some(3)]
        );
        assert_eq!(
            clip_frame_indices(4, 0, spec(Padding::Loop)).unwrap(),
            vec![Some(0), Some(1), Some(2), Some(3), Some(0), Some(1)]
        );
        assert_eq!(
            clip_frame_indices(10, 2, spec(Padding::Black)).unwrap(),
            (2..8).map(Some).collect::<Vec<_>>()
        );
        assert!(clip_frame_indices(4, 4, spec(Padding::Black)).is_err());
    }
}

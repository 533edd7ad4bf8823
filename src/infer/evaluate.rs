//! Scoring whole videos of a dataset with the unfused scorer: the one path used for validation,
//! test and `stsm-engine eval`, so they agree exactly.

use crate::data::augment::AugParams;
use crate::data::{read_clip, read_video, AugmentConfig, ClipSpec, Padding, VideoSource};
use crate::error::Result;
use crate::infer::scorer;
use crate::nn::{Family, Model};
use crate::tensor::Tensor;

/// How videos are scored: window length, C3D window stride, pooling γ, eval preprocessing.
#[derive(Clone, Debug)]
pub struct ScoringConfig {
    pub clip_len: usize,
    pub stride: usize,
    pub gamma: f64,
    pub augment: AugmentConfig,
}

/// One video as the model sees it at evaluation: every frame, or for C3D at least one clip
/// (padded as in training; VGG-style scoring never pads, as the reference).
fn eval_input(source: &dyn VideoSource, video: usize, family: Family, s: &ScoringConfig) -> Result<Tensor> {
    let frames = source.videos()[video].frames;
    if family == Family::C3d && frames < s.clip_len {
        let spec = ClipSpec {
            len: s.clip_len,
            padding: Padding::Black,
        };
        return read_clip(source, video, 0, spec, &s.augment, &AugParams::eval(&s.augment));
    }
    read_video(source, video, &s.augment)
}

/// The pooled class scores of each of `videos`.
pub fn score_videos(
    model: &Model,
    source: &dyn VideoSource,
    videos: &[usize],
    s: &ScoringConfig,
) -> Result<Vec<Vec<f64>>> {
    videos
        .iter()
        .map(|&v| {
            let input = eval_input(source, v, model.config().family, s)?;
            scorer::pooled_scores(model, &input, s.clip_len, s.stride, s.gamma)
        })
        .collect()
}

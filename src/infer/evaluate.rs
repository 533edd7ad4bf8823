//! Scoring whole videos of a dataset: the one path used for validation, test and
//! `stsm-engine eval`, so they agree exactly.

use crate::data::{AugmentConfig, VideoSource};
use crate::error::{Error, Result};
use crate::infer::pooling::Pooling;
use crate::infer::scorer::{self, ScoreOptions, SourceFrames};
use crate::nn::Model;

/// How videos are scored: window length, C3D window stride, pooling γ (+∞: max pooling), eval
/// preprocessing.
#[derive(Clone, Debug)]
pub struct ScoringConfig {
    pub clip_len: usize,
    pub stride: usize,
    pub gamma: f64,
    pub augment: AugmentConfig,
}

/// The pooled class scores of each of `videos`.
pub fn score_videos(
    model: &Model,
    source: &dyn VideoSource,
    videos: &[usize],
    s: &ScoringConfig,
) -> Result<Vec<Vec<f64>>> {
    let options = ScoreOptions::new(s.clip_len, s.stride, Pooling::from_gamma(s.gamma)?);
    videos
        .iter()
        .map(|&video| {
            let reader = SourceFrames {
                source,
                video,
                augment: &s.augment,
            };
            let scores = scorer::score_video(model, &reader, &options).map_err(|e| {
                let id = source.videos().get(video).map_or("?", |v| v.id.as_str());
                Error::data(id, format!("scoring failed: {e}"))
            })?;
            Ok(scores.pooled)
        })
        .collect()
}

//! Scoring whole videos of a dataset: the one path used for validation, test and
//! `stsm-engine eval`, so they agree exactly.

use crate::data::{AugmentConfig, VideoSource};
use crate::error::{Error, Result};
use crate::infer::pooling::Pooling;
use crate::infer::scorer::{self, ScoreOptions, SourceFrames};
use crate::nn::layers::Module;
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

/// Refuses pooled scores that are not finite, naming the likely cause: weights that are not
/// finite (a diverged or corrupt checkpoint), or γ too large for the scores. `what` names the
/// scored video(s) for the message.
pub fn check_finite_scores(model: &Model, gamma: f64, scores: &[f64], what: &str) -> Result<()> {
    if scores.iter().all(|s| s.is_finite()) {
        return Ok(());
    }
    let bad_weight = model.parameters().into_iter().find(|p| {
        p.value()
            .to_f64_vec()
            .map_or(true, |v| v.iter().any(|x| !x.is_finite()))
    });
    let cause = match bad_weight {
        Some(p) => format!(
            "the checkpoint's weights are not finite (tensor {} holds NaN or inf): it comes from a run that \
             diverged or is corrupt",
            p.name()
        ),
        None => format!("pooling γ {gamma} is too large for these scores; lower --gamma or use --pool max"),
    };
    Err(Error::argument(
        "scoring",
        format!("{what}: the class scores are not finite; {cause}"),
    ))
}

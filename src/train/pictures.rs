//! The run's pictures, redrawn after every epoch: `curves.png` (loss and accuracy per epoch,
//! phases shaded) and `sampling.png` (the paper's Figure 2 for a few training videos: the clip
//! start picked each epoch over the final score table, with the true informative segment on
//! synthetic data).

use std::path::Path;

use super::dataset::RunData;
use super::metrics::EpochMetrics;
use crate::error::Result;
use crate::report::{sampling_maps, training_curves, EpochPoint, SamplingTrace};
use crate::sampling::Sampler;

/// Training videos shown in `sampling.png` (sampler indices spread over the training set).
const SHOWN_VIDEOS: usize = 4;

pub fn write(out: &Path, history: &[EpochMetrics], sampler: &Sampler, data: &RunData, clip_len: usize) -> Result<()> {
    if history.is_empty() {
        return Ok(());
    }
    let points: Vec<EpochPoint> = history
        .iter()
        .map(|m| EpochPoint {
            epoch: m.epoch,
            phase: m.phase.clone(),
            train_loss: m.train_loss,
            train_acc: m.train_acc,
            val_loss: m.val_loss,
            val_acc: m.val_acc,
            lr: m.lr_head,
        })
        .collect();
    training_curves(&points, &out.display().to_string(), &out.join("curves.png"))?;

    let n = data.train_videos.len();
    let shown: Vec<usize> = (0..SHOWN_VIDEOS.min(n)).map(|k| k * n / SHOWN_VIDEOS.min(n)).collect();
    let traces: Vec<SamplingTrace> = shown
        .iter()
        .map(|&i| {
            let meta = &data.train.videos()[data.train_videos[i]];
            let truth = data.truth.get(&meta.id);
            SamplingTrace {
                video_id: meta.id.clone(),
                video_len: meta.frames,
                clip_len,
                picks: history
                    .iter()
                    .filter_map(|m| {
                        m.starts
                            .iter()
                            .find(|(v, _)| *v == i)
                            .map(|&(_, s)| (m.epoch, s, m.phase.clone()))
                    })
                    .collect(),
                final_scores: sampler.scores(i).to_vec(),
                truth: truth.map(|t| t.segment),
                apex: truth.map(|t| t.apex),
            }
        })
        .collect();
    sampling_maps(&traces, &out.join("sampling.png"))
}

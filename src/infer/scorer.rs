//! The simple, unfused video scorer used for validation and test during training (paper §3.3):
//! every window of F frames is scored and the window scores are pooled per class with temporal
//! softmax pooling (Eq. 3). VGG-3D style: one fully convolutional pass over the whole video gives
//! per-frame logits, then a sliding-window max over F frames (a video shorter than F is one
//! window over all its frames, as the reference). C3D style: the windows are batched as clips
//! (a video shorter than F is padded as in training).

use crate::autograd::Tape;
use crate::error::{Error, Result};
use crate::nn::{Family, Model};
use crate::tensor::Tensor;

/// Windows of C3D-style scoring per forward pass (bounds memory on long videos).
const WINDOW_BATCH: usize = 16;

/// Per-class window scores S (1, K, W) of one video (3, T, H, W), T ≥ F for C3D (pad first).
pub fn window_scores(model: &Model, video: &Tensor, clip_len: usize, stride: usize) -> Result<Tensor> {
    let [c, t, h, w] = video.shape().expect_rank::<4>("score", "video (3, T, H, W)")?;
    if t == 0 {
        return Err(Error::shape("score", "the video has no frames"));
    }
    let tape = Tape::no_grad();
    match model.config().family {
        Family::Vgg3d => {
            let frames = tape.constant(video.reshape(&[1, c, t, h, w])?);
            let logits = model.frame_logits(&frames, false, 0)?;
            Ok(logits.sliding_max(clip_len.min(t))?.value().clone())
        }
        Family::C3d => {
            if t < clip_len {
                return Err(Error::shape(
                    "score",
                    format!("C3D needs at least {clip_len} frames, got {t}; pad first"),
                ));
            }
            let starts: Vec<usize> = (0..=t - clip_len).step_by(stride.max(1)).collect();
            let data = video.as_slice::<f32>("score")?;
            let plane = h * w;
            let classes = model.config().classes;
            let mut scores = vec![0f32; classes * starts.len()];
            for (chunk_index, chunk) in starts.chunks(WINDOW_BATCH).enumerate() {
                // (n, 3, F, H, W): window s holds frames s .. s+F of every channel.
                let mut clips = Vec::with_capacity(chunk.len() * c * clip_len * plane);
                for &s in chunk {
                    for ch in 0..c {
                        clips.extend_from_slice(&data[(ch * t + s) * plane..(ch * t + s + clip_len) * plane]);
                    }
                }
                let clips = Tensor::from_vec(&[chunk.len(), c, clip_len, h, w], clips)?;
                let logits = model
                    .clip_logits(&tape.constant(clips), false, 0)?
                    .value()
                    .to_vec::<f32>()?;
                for (i, row) in logits.chunks(classes).enumerate() {
                    for (k, &v) in row.iter().enumerate() {
                        scores[k * starts.len() + chunk_index * WINDOW_BATCH + i] = v;
                    }
                }
            }
            Tensor::from_vec(&[1, classes, starts.len()], scores)
        }
    }
}

/// The pooled class scores (K) of one video: temporal softmax pooling of its window scores
/// (C3D style: every `stride`-th window).
pub fn pooled_scores(model: &Model, video: &Tensor, clip_len: usize, stride: usize, gamma: f64) -> Result<Vec<f64>> {
    let s = window_scores(model, video, clip_len, stride)?;
    let (pooled, _) = crate::ops::temporal::temporal_softmax_pool(&s, gamma)?;
    pooled.to_f64_vec()
}

/// Cross-entropy of pooled class scores against `label`, and whether the argmax is right.
pub fn video_loss(pooled: &[f64], label: usize) -> (f64, bool) {
    let top = pooled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_total = pooled.iter().map(|v| (v - top).exp()).sum::<f64>().ln() + top;
    let predicted = pooled
        .iter()
        .enumerate()
        .fold(0, |best, (k, &v)| if v > pooled[best] { k } else { best });
    (log_total - pooled[label], predicted == label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_loss_by_hand() {
        // scores (0, ln 3): softmax (1/4, 3/4); label 1 -> loss ln(4/3), correct.
        let (loss, correct) = video_loss(&[0.0, 3f64.ln()], 1);
        assert!((loss - (4.0f64 / 3.0).ln()).abs() < 1e-12 && correct);
        let (loss, correct) = video_loss(&[0.0, 3f64.ln()], 0);
        assert!((loss - 4f64.ln()).abs() < 1e-12 && !correct);
    }
}

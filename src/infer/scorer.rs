//! Scoring whole videos (paper §3.3, reference notes §4): every window of F frames is scored and
//! the window scores are pooled per class (Eq. 3).
//!
//! - VGG-3D style (no temporal pooling in the network): fully convolutional passes over chunks
//!   of frames give per-frame logits; each chunk is read with a halo of the network's temporal
//!   receptive field, so its logits equal a one-pass run's, and the last F − 1 logits are carried
//!   into the next chunk. The sliding-window max and the pooling are fused
//!   (`ops::temporal::window_pool_states`) into online-softmax states that merge across chunks:
//!   memory stays bounded and window scores are never stored unless asked for. A video shorter
//!   than F is one window over all its frames, as the reference.
//! - C3D style (the network pools time): windows at a stride, batched as clips, then the same
//!   pooling (a video shorter than F is padded as in training by the frame reader).
//!
//! `unfused_pooled` is the plain one-pass version (sliding max, then softmax pooling), kept as
//! the oracle of the fused and chunked path and as the benchmark's baseline.

use crate::autograd::Tape;
use crate::data::augment::AugParams;
use crate::data::{read_clip, AugmentConfig, ClipSpec, Padding, VideoSource};
use crate::error::{Error, Result};
use crate::infer::pooling::{PoolState, Pooling};
use crate::nn::layers::Module;
use crate::nn::{Family, Model};
use crate::ops::temporal::{temporal_softmax_pool, window_pool_states};
use crate::tensor::Tensor;

/// Windows of C3D-style scoring per forward pass (bounds memory on long videos).
const WINDOW_BATCH: usize = 16;

/// Output frames per VGG-style chunk by default: activations stay bounded on long videos, and
/// the halo it adds (2 × 13 frames for VGG-3D) stays small beside it.
pub const DEFAULT_CHUNK_FRAMES: usize = 128;

/// The frames of one video, read a range at a time.
pub trait FrameReader {
    fn frames(&self) -> usize;
    /// Frames `start..end` as (3, end − start, H, W) on the CPU. `end` may pass the last frame
    /// only where the reader pads (C3D windows of a short video).
    fn read(&self, start: usize, end: usize) -> Result<Tensor>;
}

/// A video already in memory as (3, T, H, W).
pub struct TensorFrames<'a>(pub &'a Tensor);

impl FrameReader for TensorFrames<'_> {
    fn frames(&self) -> usize {
        self.0.dims().get(1).copied().unwrap_or(0)
    }

    fn read(&self, start: usize, end: usize) -> Result<Tensor> {
        let [c, t, h, w] = self.0.shape().expect_rank::<4>("score", "video (3, T, H, W)")?;
        if start > end || end > t {
            return Err(Error::shape(
                "score",
                format!("frames {start}..{end} of a {t}-frame video; pad short videos first"),
            ));
        }
        let plane = h * w;
        let data = self.0.as_slice::<f32>("score")?;
        let mut out = Vec::with_capacity(c * (end - start) * plane);
        for ch in 0..c {
            out.extend_from_slice(&data[(ch * t + start) * plane..(ch * t + end) * plane]);
        }
        Tensor::from_vec(&[c, end - start, h, w], out)
    }
}

/// A video of a data source, preprocessed for evaluation (no augmentation; black frames past
/// the end, as training pads).
pub struct SourceFrames<'a> {
    pub source: &'a dyn VideoSource,
    pub video: usize,
    pub augment: &'a AugmentConfig,
}

impl FrameReader for SourceFrames<'_> {
    fn frames(&self) -> usize {
        self.source.videos().get(self.video).map_or(0, |v| v.frames)
    }

    fn read(&self, start: usize, end: usize) -> Result<Tensor> {
        let spec = ClipSpec {
            len: end - start,
            padding: Padding::Black,
        };
        read_clip(
            self.source,
            self.video,
            start,
            spec,
            self.augment,
            &AugParams::eval(self.augment),
        )
    }
}

/// How a video is scored.
#[derive(Clone, Copy, Debug)]
pub struct ScoreOptions {
    /// F, the window length (the model's clip length).
    pub clip_len: usize,
    /// C3D: score every `stride`-th window (VGG-style scoring uses every window).
    pub stride: usize,
    pub pooling: Pooling,
    /// VGG style: output frames per chunk (0 = the whole video in one pass).
    pub chunk_frames: usize,
    /// Also return every window's score and pooling weight (for `predict`).
    pub keep_windows: bool,
}

impl ScoreOptions {
    pub fn new(clip_len: usize, stride: usize, pooling: Pooling) -> ScoreOptions {
        ScoreOptions {
            clip_len,
            stride,
            pooling,
            chunk_frames: DEFAULT_CHUNK_FRAMES,
            keep_windows: false,
        }
    }
}

/// Every scored window of a video: start frames, window length, and per class the scores and
/// pooling weights.
#[derive(Clone, Debug)]
pub struct WindowScores {
    pub starts: Vec<usize>,
    pub len: usize,
    /// (K, W)
    pub scores: Vec<Vec<f64>>,
    /// (K, W), each row sums to 1.
    pub weights: Vec<Vec<f64>>,
}

#[derive(Clone, Debug)]
pub struct VideoScores {
    /// The pooled score of each class (logits; argmax is the prediction).
    pub pooled: Vec<f64>,
    pub windows: Option<WindowScores>,
}

/// Scores one video with `model` (on its device).
pub fn score_video(model: &Model, reader: &dyn FrameReader, o: &ScoreOptions) -> Result<VideoScores> {
    if reader.frames() == 0 {
        return Err(Error::shape("score", "the video has no frames"));
    }
    if o.clip_len == 0 {
        return Err(Error::argument("score", "the window length must be at least 1"));
    }
    match model.config().family {
        Family::Vgg3d => score_frames(model, reader, o),
        Family::C3d => score_clips(model, reader, o),
    }
}

/// Merges the states of a (1, K, POOL_STATE) tensor, computed with `gamma`, into `states`.
fn merge_states(states: &mut [PoolState], t: &Tensor, gamma: f64) -> Result<()> {
    for (s, chunk) in states.iter_mut().zip(PoolState::from_rows(&t.to_f64_vec()?)) {
        *s = s.merge(chunk, gamma);
    }
    Ok(())
}

/// Rows of host scores (K, L) as a (1, K, L) f32 tensor on `model`'s device.
fn rows_on_device(model: &Model, rows: &[Vec<f32>]) -> Result<Tensor> {
    let len = rows.first().map_or(0, Vec::len);
    Tensor::from_vec(&[1, rows.len(), len], rows.concat())?.to_device(model.device())
}

fn finish(states: &[PoolState], pooling: Pooling, windows: Option<WindowScores>) -> VideoScores {
    VideoScores {
        pooled: states.iter().map(|s| s.pooled(pooling)).collect(),
        windows,
    }
}

/// Explicit window scores and weights of host rows (K, W) of window scores.
fn explicit_windows(scores: Vec<Vec<f64>>, starts: Vec<usize>, len: usize, pooling: Pooling) -> WindowScores {
    let weights = scores.iter().map(|row| pooling.weights(row)).collect();
    WindowScores {
        starts,
        len,
        scores,
        weights,
    }
}

/// VGG style: chunked per-frame logits, fused window max + pooling, F − 1 logits carried.
fn score_frames(model: &Model, reader: &dyn FrameReader, o: &ScoreOptions) -> Result<VideoScores> {
    let t = reader.frames();
    let k = o.clip_len.min(t);
    let classes = model.config().classes;
    let halo = model.config().temporal_halo().unwrap_or(t);
    let chunk = if o.chunk_frames == 0 { t } else { o.chunk_frames };
    let gamma = o.pooling.kernel_gamma();
    let tape = Tape::no_grad();
    let mut states = vec![PoolState::EMPTY; classes];
    let mut carry: Vec<Vec<f32>> = vec![Vec::new(); classes];
    let mut all: Vec<Vec<f32>> = vec![Vec::new(); classes];
    for a in (0..t).step_by(chunk) {
        let b = (a + chunk).min(t);
        let (lo, hi) = (a.saturating_sub(halo), (b + halo).min(t));
        let frames = reader.read(lo, hi)?;
        let [c, n, h, w] = [frames.dims()[0], frames.dims()[1], frames.dims()[2], frames.dims()[3]];
        let input = tape.constant(frames.reshape(&[1, c, n, h, w])?.to_device(model.device())?);
        let logits = model.frame_logits(&input, false, 0)?.value().to_vec::<f32>()?;
        // (1, K, n): keep output frames a..b of each class, after the carried ones.
        for (class, row) in logits.chunks(n).enumerate() {
            carry[class].extend_from_slice(&row[a - lo..b - lo]);
            if o.keep_windows {
                all[class].extend_from_slice(&row[a - lo..b - lo]);
            }
        }
        if carry[0].len() >= k {
            merge_states(
                &mut states,
                &window_pool_states(&rows_on_device(model, &carry)?, k, gamma)?,
                gamma,
            )?;
            for row in &mut carry {
                row.drain(..row.len() + 1 - k);
            }
        }
    }
    let windows = o.keep_windows.then(|| {
        let scores: Vec<Vec<f64>> = all
            .iter()
            .map(|row| {
                row.windows(k)
                    .map(|w| w.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64)
                    .collect()
            })
            .collect();
        explicit_windows(scores, (0..=t - k).collect(), k, o.pooling)
    });
    Ok(finish(&states, o.pooling, windows))
}

/// C3D style: the start frames of every `stride`-th window and the class scores (K, W) of those
/// windows, batched as clips.
fn clip_window_scores(
    model: &Model,
    reader: &dyn FrameReader,
    f: usize,
    stride: usize,
) -> Result<(Vec<usize>, Vec<Vec<f32>>)> {
    let starts: Vec<usize> = (0..=reader.frames().saturating_sub(f)).step_by(stride.max(1)).collect();
    let classes = model.config().classes;
    let tape = Tape::no_grad();
    let mut scores: Vec<Vec<f32>> = vec![Vec::with_capacity(starts.len()); classes];
    for batch in starts.chunks(WINDOW_BATCH) {
        let (first, last) = (batch[0], batch[batch.len() - 1]);
        let frames = reader.read(first, last + f)?;
        let [c, n, h, w] = [frames.dims()[0], frames.dims()[1], frames.dims()[2], frames.dims()[3]];
        let data = frames.as_slice::<f32>("score")?;
        let plane = h * w;
        // (batch, 3, F, H, W): window s holds frames s .. s + F of every channel.
        let mut clips = Vec::with_capacity(batch.len() * c * f * plane);
        for &s in batch {
            for ch in 0..c {
                let from = (ch * n + s - first) * plane;
                clips.extend_from_slice(&data[from..from + f * plane]);
            }
        }
        let clips = Tensor::from_vec(&[batch.len(), c, f, h, w], clips)?.to_device(model.device())?;
        let logits = model
            .clip_logits(&tape.constant(clips), false, 0)?
            .value()
            .to_vec::<f32>()?;
        for row in logits.chunks(classes) {
            for (class, &v) in row.iter().enumerate() {
                scores[class].push(v);
            }
        }
    }
    Ok((starts, scores))
}

/// C3D style: the window scores pooled by the fused op (windows of one score each).
fn score_clips(model: &Model, reader: &dyn FrameReader, o: &ScoreOptions) -> Result<VideoScores> {
    let (starts, scores) = clip_window_scores(model, reader, o.clip_len, o.stride)?;
    let mut states = vec![PoolState::EMPTY; scores.len()];
    let on_device = rows_on_device(model, &scores)?;
    let gamma = o.pooling.kernel_gamma();
    merge_states(&mut states, &window_pool_states(&on_device, 1, gamma)?, gamma)?;
    let windows = o.keep_windows.then(|| {
        let rows = scores.iter().map(|r| r.iter().map(|&v| v as f64).collect()).collect();
        explicit_windows(rows, starts, o.clip_len, o.pooling)
    });
    Ok(finish(&states, o.pooling, windows))
}

/// The plain one-pass version: all window scores (1, K, W) first (VGG: one pass over the whole
/// video, then the sliding max; C3D: every `stride`-th window), then softmax pooling with γ.
pub fn unfused_pooled(model: &Model, video: &Tensor, clip_len: usize, stride: usize, gamma: f64) -> Result<Vec<f64>> {
    let reader = TensorFrames(video);
    let t = reader.frames();
    let s = match model.config().family {
        Family::Vgg3d => {
            let [c, _, h, w] = video.shape().expect_rank::<4>("score", "video (3, T, H, W)")?;
            let frames = Tape::no_grad().constant(video.reshape(&[1, c, t, h, w])?.to_device(model.device())?);
            model
                .frame_logits(&frames, false, 0)?
                .sliding_max(clip_len.min(t))?
                .value()
                .clone()
        }
        Family::C3d => rows_on_device(model, &clip_window_scores(model, &reader, clip_len, stride)?.1)?,
    };
    temporal_softmax_pool(&s, gamma)?.0.to_f64_vec()
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

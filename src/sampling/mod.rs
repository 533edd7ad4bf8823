//! Clip samplers for short-clip training: uniform, temporal stochastic softmax (paper §3.3,
//! Algorithm 1, Eq. 6) and a REINFORCE baseline (paper Eq. 5).
//!
//! The training loop calls, for every training video and every epoch (numbered from 1):
//! `start = draw(video, epoch, rng)`, trains on the clip at `start`, then
//! `record(video, epoch, start, score, loss)` with the clip's true-class logit and its loss. Record
//! in every phase; the sampler ignores what a phase does not use. The exact rules follow
//! `reference-implementation-notes.md` §0–3 (cited per rule in `softmax.rs`, `reinforce.rs`).
//!
//! Videos no longer than a clip (L ≤ F) have the single start 0 in every phase, consume no
//! randomness, and still get their one-entry table updated (notes §1–§2).

mod phase;
mod reinforce;
mod softmax;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use phase::Phase;

/// Which rule picks clip starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// A uniform start every epoch, no table updates (the usual short-clip training, paper Eq. 1).
    /// Its phase is `WarmUp` for the warm-up epochs and `Exploitation` after, though nothing changes.
    Uniform,
    /// Temporal stochastic softmax: warm-up, exploration, then starts ~ softmax(γ w) (paper §3.3).
    /// γ = 0 is exactly uniform sampling but still runs the schedule, as the reference's baseline.
    Softmax { gamma: f64 },
    /// REINFORCE on per-video logits q: warm-up, then starts ~ softmax(γ q) with policy-gradient
    /// updates (paper Eq. 5; no exploration phase). See `reinforce.rs` for the baseline rule.
    Reinforce { gamma: f64, lr: f64, baseline_decay: f64 },
}

impl fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamplerKind::Uniform => write!(f, "uniform"),
            SamplerKind::Softmax { gamma } => write!(f, "softmax(gamma={gamma})"),
            SamplerKind::Reinforce {
                gamma,
                lr,
                baseline_decay,
            } => write!(f, "reinforce(gamma={gamma}, lr={lr}, baseline_decay={baseline_decay})"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplerConfig {
    pub kind: SamplerKind,
    /// Frames per clip, F (16 in the paper).
    pub clip_len: usize,
    /// Epochs of uniform sampling without updates before anything is learned (3 in the reference).
    pub warmup_epochs: usize,
    /// E: exploration epochs and evenly spaced slots per video (softmax only; 5 in the reference).
    pub exploration_epochs: usize,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            kind: SamplerKind::Softmax { gamma: 1.0 },
            clip_len: 16,
            warmup_epochs: 3,
            exploration_epochs: 5,
        }
    }
}

impl SamplerConfig {
    /// Checks every setting the rules need; errors name the setting and the valid range.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::argument("sampler", msg));
        if self.clip_len == 0 {
            return bad("clip_len (F) must be at least 1".into());
        }
        let check_gamma = |gamma: f64| {
            if gamma.is_finite() && gamma >= 0.0 {
                Ok(())
            } else {
                bad(format!(
                    "gamma must be finite and >= 0 (0 is uniform sampling), got {gamma}"
                ))
            }
        };
        match self.kind {
            SamplerKind::Uniform => {}
            SamplerKind::Softmax { gamma } => {
                check_gamma(gamma)?;
                // Slot k starts at ⌊(N−1)k/(E−1)⌋: E = 1 divides by zero in the reference (notes §9.15).
                if self.exploration_epochs < 2 {
                    return bad(format!(
                        "the softmax sampler needs exploration_epochs (E) >= 2 (slots are spaced by (N-1)/(E-1)), got {}",
                        self.exploration_epochs
                    ));
                }
            }
            SamplerKind::Reinforce {
                gamma,
                lr,
                baseline_decay,
            } => {
                check_gamma(gamma)?;
                if !(lr.is_finite() && lr >= 0.0) {
                    return bad(format!("reinforce lr must be finite and >= 0, got {lr}"));
                }
                if !(0.0..=1.0).contains(&baseline_decay) {
                    return bad(format!(
                        "reinforce baseline_decay must be in [0, 1], got {baseline_decay}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The phase of an epoch (numbered from 1; epoch 0 reports `WarmUp`).
    pub fn phase(&self, epoch: usize) -> Phase {
        let exploration = match self.kind {
            SamplerKind::Softmax { .. } => Some(self.exploration_epochs),
            SamplerKind::Uniform | SamplerKind::Reinforce { .. } => None,
        };
        phase::phase_at(epoch, self.warmup_epochs, exploration)
    }
}

/// The last draw of a video: which epoch, which start, and whether `record` has consumed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Visit {
    epoch: usize,
    start: usize,
    recorded: bool,
}

/// Everything the sampler knows about one training video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct VideoState {
    /// Frames in the video (L).
    len: usize,
    /// w (softmax) or q (REINFORCE), one entry per start, all 0 at first (notes §1); zeros that
    /// never change for the uniform sampler.
    table: Vec<f32>,
    /// Exploration roadmap (softmax only): the slots k not yet visited, in a fixed order.
    unvisited: Vec<usize>,
    /// REINFORCE moving-average baseline of the reward; `None` until the first update.
    baseline: Option<f32>,
    last: Option<Visit>,
}

/// The clip sampler of one training run. Its whole state (tables, roadmaps, baselines, the last
/// draw of each video) serialises, so a restored sampler with a restored RNG continues bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SamplerData")]
pub struct Sampler {
    config: SamplerConfig,
    videos: Vec<VideoState>,
    /// Records whose score (softmax) or loss (REINFORCE) was NaN or infinite and were skipped.
    skipped_non_finite: u64,
}

/// The serialised form, checked before it becomes a `Sampler` so a damaged checkpoint is an error
/// rather than a later panic.
#[derive(Deserialize)]
struct SamplerData {
    config: SamplerConfig,
    videos: Vec<VideoState>,
    skipped_non_finite: u64,
}

impl TryFrom<SamplerData> for Sampler {
    type Error = Error;

    fn try_from(d: SamplerData) -> Result<Sampler> {
        d.config.validate()?;
        let bad = |v: usize, msg: &str| Err(Error::argument("sampler state", format!("video {v}: {msg}")));
        let explores = matches!(d.config.kind, SamplerKind::Softmax { .. });
        for (v, s) in d.videos.iter().enumerate() {
            if s.len == 0 {
                return bad(v, "0 frames");
            }
            let n = table::num_starts(s.len, d.config.clip_len);
            if s.table.len() != n {
                return bad(v, &format!("table has {} entries, expected {n}", s.table.len()));
            }
            if s.table.iter().any(|x| !x.is_finite()) || s.baseline.is_some_and(|b| !b.is_finite()) {
                return bad(v, "non-finite score or baseline");
            }
            let e = if explores { d.config.exploration_epochs } else { 0 };
            let mut seen = vec![false; e];
            for &k in &s.unvisited {
                if k >= e || std::mem::replace(&mut seen[k], true) {
                    return bad(v, "corrupt exploration roadmap");
                }
            }
            if s.last.is_some_and(|l| l.start >= n || l.epoch == 0) {
                return bad(v, "last draw outside the video");
            }
        }
        Ok(Sampler {
            config: d.config,
            videos: d.videos,
            skipped_non_finite: d.skipped_non_finite,
        })
    }
}

impl Sampler {
    /// A sampler for the training videos with these frame counts (index = video id used in
    /// `draw`/`record`). Errors on an invalid config or a video with 0 frames.
    pub fn new(cfg: SamplerConfig, video_lens: &[usize]) -> Result<Sampler> {
        cfg.validate()?;
        let explore_slots = match cfg.kind {
            SamplerKind::Softmax { .. } => cfg.exploration_epochs,
            SamplerKind::Uniform | SamplerKind::Reinforce { .. } => 0,
        };
        let mut videos = Vec::with_capacity(video_lens.len());
        for (v, &len) in video_lens.iter().enumerate() {
            if len == 0 {
                return Err(Error::argument(
                    "sampler",
                    format!(
                        "training video {v} has 0 frames (drop empty videos before sampling, as the reference does)"
                    ),
                ));
            }
            videos.push(VideoState {
                len,
                table: vec![0.0; table::num_starts(len, cfg.clip_len)],
                unvisited: (0..explore_slots).collect(),
                baseline: None,
                last: None,
            });
        }
        Ok(Sampler {
            config: cfg,
            videos,
            skipped_non_finite: 0,
        })
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.config
    }

    pub fn num_videos(&self) -> usize {
        self.videos.len()
    }

    /// Number of clip starts N = max(1, L − F + 1) of a video. Panics if `video` is out of range.
    pub fn num_starts(&self, video: usize) -> usize {
        self.videos[video].table.len()
    }

    /// After restoring a checkpoint: errors unless the sampler was built for videos with exactly these
    /// frame counts, in this order (a changed training set would silently mix up score tables).
    pub fn check_video_lens(&self, video_lens: &[usize]) -> Result<()> {
        let ours: Vec<usize> = self.videos.iter().map(|s| s.len).collect();
        if ours.len() != video_lens.len() {
            return Err(Error::argument(
                "sampler",
                format!(
                    "state is for {} training videos, the data has {}",
                    ours.len(),
                    video_lens.len()
                ),
            ));
        }
        match ours.iter().zip(video_lens).position(|(a, b)| a != b) {
            Some(v) => Err(Error::argument(
                "sampler",
                format!(
                    "video {v} had {} frames in the saved state, the data has {}",
                    ours[v], video_lens[v]
                ),
            )),
            None => Ok(()),
        }
    }

    /// How many records were ignored because the value they carried was NaN or infinite.
    pub fn skipped_non_finite(&self) -> u64 {
        self.skipped_non_finite
    }

    /// The phase of an epoch (numbered from 1).
    pub fn phase(&self, epoch: usize) -> Phase {
        self.config.phase(epoch)
    }

    /// The clip start for `video` this epoch. Deterministic given the rng state. Panics on misuse
    /// (see `try_draw`); the training loop should prefer `try_draw`.
    pub fn draw(&mut self, video: usize, epoch: usize, rng: &mut ChaCha8Rng) -> usize {
        self.try_draw(video, epoch, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The clip start for `video` this epoch (epochs from 1).
    ///
    /// A video with one start (L ≤ F) always gets 0 and uses no randomness; any other draw uses the
    /// rng once. Drawing the same video twice in an epoch returns the first start again without
    /// touching the rng or the exploration roadmap. Errors: unknown video, epoch 0, an epoch
    /// earlier than the video's last draw.
    pub fn try_draw(&mut self, video: usize, epoch: usize, rng: &mut ChaCha8Rng) -> Result<usize> {
        let phase = self.config.phase(epoch);
        let cfg = self.config.clone();
        let state = self.video_mut("sampler.draw", video)?;
        if epoch == 0 {
            return Err(Error::argument("sampler.draw", "epochs are numbered from 1"));
        }
        if let Some(last) = state.last {
            if last.epoch == epoch {
                return Ok(last.start);
            }
            if last.epoch > epoch {
                return Err(Error::argument(
                    "sampler.draw",
                    format!(
                        "video {video} was drawn in epoch {} and now epoch {epoch}: epochs go forward",
                        last.epoch
                    ),
                ));
            }
        }
        let n = state.table.len();
        let start = if n == 1 {
            0
        } else {
            match (phase, cfg.kind) {
                (Phase::WarmUp, _) | (_, SamplerKind::Uniform) => rng.gen_range(0..n),
                (Phase::Exploration, _) => {
                    // Notes §1: pick uniformly among the slots not yet visited and mark it visited.
                    if state.unvisited.is_empty() {
                        return Err(Error::argument(
                            "sampler.draw",
                            format!("video {video}: every exploration slot was already visited"),
                        ));
                    }
                    let k = state.unvisited.remove(rng.gen_range(0..state.unvisited.len()));
                    softmax::slot_start(n, k, cfg.exploration_epochs)
                }
                (Phase::Exploitation, SamplerKind::Softmax { gamma })
                | (Phase::Exploitation, SamplerKind::Reinforce { gamma, .. }) => {
                    table::sample_categorical(&table::softmax(gamma, &state.table), rng)
                }
            }
        };
        state.last = Some(Visit {
            epoch,
            start,
            recorded: false,
        });
        Ok(start)
    }

    /// What the training pass measured for that clip: `score` = true-class clip logit, `loss` =
    /// its cross-entropy. Panics on misuse (see `try_record`); prefer `try_record`.
    pub fn record(&mut self, video: usize, epoch: usize, start: usize, score: f32, loss: f32) {
        self.try_record(video, epoch, start, score, loss)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Feeds back the clip drawn for `video` this epoch and applies the phase's update: none in
    /// warm-up or for the uniform sampler; exploration plateau or triangular running estimate of w
    /// (softmax, from `score`); a policy-gradient step on q (REINFORCE, from `loss`).
    ///
    /// Errors unless it matches the video's last draw (same epoch and start, not yet recorded). A
    /// NaN or infinite value that the update would use skips the update (counted in
    /// `skipped_non_finite`) so the table stays finite.
    pub fn try_record(&mut self, video: usize, epoch: usize, start: usize, score: f32, loss: f32) -> Result<()> {
        let phase = self.config.phase(epoch);
        let cfg = self.config.clone();
        let state = self.video_mut("sampler.record", video)?;
        match state.last {
            Some(Visit {
                epoch: e,
                start: s,
                recorded: false,
            }) if e == epoch && s == start => {}
            Some(Visit { epoch: e, start: s, .. }) if e == epoch && s == start => {
                return Err(Error::argument(
                    "sampler.record",
                    format!("video {video}, epoch {epoch}: already recorded"),
                ));
            }
            last => {
                return Err(Error::argument(
                    "sampler.record",
                    format!(
                        "video {video}: record(epoch {epoch}, start {start}) does not match its last draw {:?}",
                        last.map(|l| (l.epoch, l.start))
                    ),
                ));
            }
        }
        if let Some(last) = state.last.as_mut() {
            last.recorded = true;
        }
        let value = match (phase, cfg.kind) {
            (Phase::WarmUp, _) | (_, SamplerKind::Uniform) => return Ok(()),
            (_, SamplerKind::Softmax { .. }) => score,
            (_, SamplerKind::Reinforce { .. }) => loss,
        };
        if !value.is_finite() {
            self.skipped_non_finite += 1;
            return Ok(());
        }
        match (phase, cfg.kind) {
            (Phase::Exploration, _) => softmax::explore_update(&mut state.table, start, value, cfg.exploration_epochs),
            (
                _,
                SamplerKind::Reinforce {
                    gamma,
                    lr,
                    baseline_decay,
                },
            ) => reinforce::reinforce_update(
                &mut state.table,
                &mut state.baseline,
                start,
                value,
                gamma,
                lr,
                baseline_decay,
            ),
            _ => softmax::exploit_update(&mut state.table, start, value, cfg.clip_len),
        }
        Ok(())
    }

    /// The per-video score table w (softmax sampler) or q (REINFORCE), length max(1, L − F + 1);
    /// all zeros for the uniform sampler. Panics if `video` is out of range.
    pub fn scores(&self, video: usize) -> &[f32] {
        &self.videos[video].table
    }

    /// The distribution a fresh draw for `video` at `epoch` would use, given the current state:
    /// uniform in warm-up (and always for the uniform sampler), 1/(unvisited slots) on each
    /// unvisited slot's start in exploration (repeated starts add up), softmax(γ·table) in
    /// exploitation, [1] for a video with one start. (A repeated draw in an epoch that was already
    /// drawn returns that start instead.) Panics if `video` is out of range.
    pub fn probabilities(&self, video: usize, epoch: usize) -> Vec<f64> {
        let state = &self.videos[video];
        let n = state.table.len();
        if n == 1 {
            return vec![1.0];
        }
        match (self.config.phase(epoch), self.config.kind) {
            (Phase::WarmUp, _) | (_, SamplerKind::Uniform) => table::uniform(n),
            (Phase::Exploration, _) => {
                if state.unvisited.is_empty() {
                    return table::uniform(n);
                }
                let mut p = vec![0.0; n];
                let each = 1.0 / state.unvisited.len() as f64;
                for &k in &state.unvisited {
                    p[softmax::slot_start(n, k, self.config.exploration_epochs)] += each;
                }
                p
            }
            (Phase::Exploitation, SamplerKind::Softmax { gamma })
            | (Phase::Exploitation, SamplerKind::Reinforce { gamma, .. }) => table::softmax(gamma, &state.table),
        }
    }

    fn video_mut(&mut self, op: &'static str, video: usize) -> Result<&mut VideoState> {
        let count = self.videos.len();
        self.videos
            .get_mut(video)
            .ok_or_else(|| Error::argument(op, format!("video {video} out of range ({count} training videos)")))
    }
}

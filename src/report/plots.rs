//! The plots the training loop, the run report and `predict` write: training curves, sampling
//! maps in the style of the paper's Figure 2 (where in each video the sampler picked its clip,
//! epoch by epoch, over the final score distribution), and one video's window scores over time.
//! Rendering lives in `curves`, `sampling` and `window_scores`; this file holds the public types,
//! input checks and file output.

use std::path::Path;

use super::canvas::Canvas;
use super::{curves, sampling};
use crate::error::{Error, Result};

/// One epoch of training, as the training loop logs it.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochPoint {
    pub epoch: usize,
    /// "warm-up" | "exploration" | "exploitation".
    pub phase: String,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: Option<f64>,
    pub val_acc: Option<f64>,
    pub lr: f64,
}

/// Everything needed to draw one video's sampling map.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingTrace {
    pub video_id: String,
    /// Video length in frames.
    pub video_len: usize,
    /// Clip length F in frames.
    pub clip_len: usize,
    /// (epoch, clip start, phase) for every epoch.
    pub picks: Vec<(usize, usize, String)>,
    /// The score w of every clip start 0..N-1 at the end of training.
    pub final_scores: Vec<f32>,
    /// The informative segment [start, end) in frames, when known (synthetic benchmark).
    pub truth: Option<(usize, usize)>,
    /// The apex frame, when known.
    pub apex: Option<usize>,
}

impl SamplingTrace {
    /// Number of clip starts N = L - F + 1; a video shorter than one clip still has the one
    /// (padded) clip at 0, as the sampler treats it.
    pub fn clip_starts(&self) -> usize {
        (self.video_len + 1).saturating_sub(self.clip_len).max(1)
    }

    /// The inclusive range of clip starts whose clip (frames s..s+F-1) overlaps the truth
    /// segment, if any does.
    pub fn truth_starts(&self) -> Option<(usize, usize)> {
        let (a, b) = self.truth?;
        let n = self.clip_starts();
        if b <= a || a >= self.video_len {
            return None;
        }
        let first = (a + 1).saturating_sub(self.clip_len);
        let last = (b - 1).min(n - 1);
        (first <= last).then_some((first, last))
    }

    /// The clip start whose clip is centred on the apex frame (clamped to the valid starts).
    pub fn apex_start(&self) -> Option<usize> {
        let p = self.apex?;
        (p < self.video_len).then(|| {
            p.saturating_sub(self.clip_len.saturating_sub(1) / 2)
                .min(self.clip_starts() - 1)
        })
    }

    /// Rejects traces that cannot be drawn truthfully; NaN scores are not an error (they are
    /// skipped when drawn).
    pub(crate) fn validate(&self) -> Result<()> {
        let op = "sampling_map";
        let id = &self.video_id;
        if self.video_len == 0 {
            return Err(Error::argument(op, format!("video {id:?} has zero frames")));
        }
        if self.clip_len == 0 {
            return Err(Error::argument(op, format!("video {id:?}: clip length is 0")));
        }
        let n = self.clip_starts();
        if self.picks.is_empty() && self.final_scores.is_empty() {
            return Err(Error::argument(
                op,
                format!("video {id:?}: no picks and no scores to plot"),
            ));
        }
        if !self.final_scores.is_empty() && self.final_scores.len() != n {
            return Err(Error::argument(
                op,
                format!(
                    "video {id:?}: {} scores for {n} clip starts (L = {}, F = {})",
                    self.final_scores.len(),
                    self.video_len,
                    self.clip_len
                ),
            ));
        }
        if let Some(&(epoch, start, _)) = self.picks.iter().find(|p| p.1 >= n) {
            return Err(Error::argument(
                op,
                format!("video {id:?}: epoch {epoch} picked clip start {start}, but starts are 0..{n}"),
            ));
        }
        Ok(())
    }
}

/// One video's per-window class scores, as `stsm-engine predict` computes them: K classes, W
/// windows of F frames.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowScoresPlot {
    /// What the picture is of, e.g. the video id and the model.
    pub title: String,
    /// The K class names.
    pub classes: Vec<String>,
    /// The W window start frames, strictly ascending (the stride may be more than 1).
    pub starts: Vec<usize>,
    /// Window length F in frames.
    pub window_len: usize,
    /// Video length L in frames.
    pub video_len: usize,
    /// K × W window scores (logits), `scores[class][window]`.
    pub scores: Vec<Vec<f64>>,
    /// K × W pooling weights, `weights[class][window]`; each class's row sums to 1.
    pub weights: Vec<Vec<f64>>,
    /// The K pooled (video) scores.
    pub pooled: Vec<f64>,
    /// Index of the predicted class.
    pub predicted: usize,
    /// The pooling as `Pooling` displays it: "softmax γ=1", "mean", "max".
    pub pooling: String,
}

impl WindowScoresPlot {
    /// Class probabilities: the softmax of the pooled scores. A class whose pooled score is not
    /// finite gets NaN and is left out of the normalisation; all NaN when none is finite.
    pub fn probabilities(&self) -> Vec<f64> {
        let top = self
            .pooled
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = self
            .pooled
            .iter()
            .map(|&v| if v.is_finite() { (v - top).exp() } else { f64::NAN })
            .collect();
        let total: f64 = e.iter().filter(|v| v.is_finite()).sum();
        e.iter().map(|v| v / total).collect()
    }

    /// Rejects inputs that cannot be drawn truthfully, naming the field at fault. NaN scores are
    /// not an error (they are skipped when drawn), nor are NaN weights (a NaN score makes its
    /// class's softmax weights NaN); a row of finite weights must be ≥ 0 and sum to 1 (within
    /// 0.01).
    pub(crate) fn validate(&self) -> Result<()> {
        let op = "window_scores";
        let title = &self.title;
        let k = self.classes.len();
        let w = self.starts.len();
        let bad = |msg: String| Err(Error::argument(op, format!("{title:?}: {msg}")));
        if k == 0 {
            return bad("classes is empty".into());
        }
        if w == 0 {
            return bad("starts is empty: no windows to plot".into());
        }
        if self.video_len == 0 {
            return bad("video_len is 0".into());
        }
        if self.window_len == 0 {
            return bad("window_len is 0".into());
        }
        if let Some(i) = (1..w).find(|&i| self.starts[i] <= self.starts[i - 1]) {
            return bad(format!(
                "starts must be strictly ascending, but starts[{i}] = {} follows {}",
                self.starts[i],
                self.starts[i - 1]
            ));
        }
        let last = self.starts[w - 1];
        if last >= self.video_len {
            return bad(format!(
                "starts[{}] = {last} is past the video's {} frames",
                w - 1,
                self.video_len
            ));
        }
        for (field, rows) in [("scores", &self.scores), ("weights", &self.weights)] {
            if rows.len() != k {
                return bad(format!("{field} has {} rows for {k} classes", rows.len()));
            }
            if let Some((c, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != w) {
                return bad(format!("{field}[{c}] has {} values for {w} windows", row.len()));
            }
        }
        for (c, row) in self.weights.iter().enumerate() {
            if let Some(j) = row.iter().position(|&v| v < 0.0) {
                return bad(format!("weights[{c}][{j}] = {} is negative", row[j]));
            }
            let sum: f64 = row.iter().sum();
            if row.iter().all(|v| v.is_finite()) && (sum - 1.0).abs() > 1e-2 {
                return bad(format!(
                    "weights[{c}] sums to {}, not 1",
                    super::text::short_number(sum)
                ));
            }
        }
        if self.pooled.len() != k {
            return bad(format!("pooled has {} values for {k} classes", self.pooled.len()));
        }
        if self.predicted >= k {
            return bad(format!("predicted = {} but there are {k} classes", self.predicted));
        }
        Ok(())
    }
}

/// Size of a training-curves picture.
pub(crate) const CURVES_SIZE: (u32, u32) = (1000, 820);
/// Size of one sampling map, alone or as a cell of a grid.
pub(crate) const MAP_SIZE: (u32, u32) = (1000, 900);
/// Columns of the grid of sampling maps.
const GRID_COLS: usize = 2;
/// Size of a window-scores picture.
pub(crate) const WINDOW_SCORES_SIZE: (u32, u32) = (1000, 820);
/// More maps than this would make a picture nobody can read (and an enormous file).
pub const MAX_MAPS: usize = 32;

/// Two panels (loss; accuracy) over epochs: train and validation curves, background bands per
/// phase, a marker at the best validation loss.
pub fn training_curves(points: &[EpochPoint], title: &str, path: &Path) -> Result<()> {
    let (canvas, _) = curves::render(points, title, CURVES_SIZE.0, CURVES_SIZE.1)?;
    canvas.save_png(path)
}

/// The paper's Figure 2 for one video: x = clip start, y = epoch (1 at the top); a dot per epoch at
/// the selected start coloured by phase, the final score distribution w above it, the true
/// informative segment shaded and the apex marked.
pub fn sampling_map(trace: &SamplingTrace, path: &Path) -> Result<()> {
    let (canvas, _) = sampling::render(trace, MAP_SIZE.0, MAP_SIZE.1)?;
    canvas.save_png(path)
}

/// Several videos in one PNG: sampling maps in a grid, two per row, for the run report.
pub fn sampling_maps(traces: &[SamplingTrace], path: &Path) -> Result<()> {
    if traces.is_empty() {
        return Err(Error::argument("sampling_maps", "no videos to plot"));
    }
    if traces.len() > MAX_MAPS {
        return Err(Error::argument(
            "sampling_maps",
            format!(
                "{} videos in one picture; at most {MAX_MAPS} stay readable",
                traces.len()
            ),
        ));
    }
    let cols = traces.len().min(GRID_COLS);
    let rows = traces.len().div_ceil(cols);
    let (w, h) = MAP_SIZE;
    let mut grid = Canvas::new(w * cols as u32, h * rows as u32, super::palette::WHITE)?;
    for (i, trace) in traces.iter().enumerate() {
        let (cell, _) = sampling::render(trace, w, h)?;
        grid.blit(&cell, (i % cols) as i64 * w as i64, (i / cols) as i64 * h as i64);
    }
    // Thin rules between cells so each video's map reads as one unit.
    for col in 1..cols as i64 {
        grid.fill_rect(col * w as i64, 0, 1, grid.height() as i64, super::palette::GRID);
    }
    for row in 1..rows as i64 {
        grid.fill_rect(0, row * h as i64, grid.width() as i64, 1, super::palette::GRID);
    }
    grid.save_png(path)
}

/// One video's window scores over time, for `stsm-engine predict`: the top panel draws every
/// class's window score against the frame at the window's centre (the predicted class thick and
/// on top; more than 10 classes are cut to the 10 best by pooled score, the prediction always
/// among them), the bottom panel the predicted class's pooling weight per window as bars.
pub fn window_scores(plot: &WindowScoresPlot, path: &Path) -> Result<()> {
    let (canvas, _) = super::window_scores::render(plot, WINDOW_SCORES_SIZE.0, WINDOW_SCORES_SIZE.1)?;
    canvas.save_png(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(video_len: usize, clip_len: usize) -> SamplingTrace {
        SamplingTrace {
            video_id: "v".into(),
            video_len,
            clip_len,
            picks: vec![(1, 0, "warm-up".into())],
            final_scores: vec![0.0; (video_len + 1).saturating_sub(clip_len).max(1)],
            truth: None,
            apex: None,
        }
    }

    #[test]
    fn clip_starts_follow_l_minus_f_plus_one() {
        assert_eq!(trace(150, 16).clip_starts(), 135);
        assert_eq!(trace(16, 16).clip_starts(), 1);
        assert_eq!(trace(5, 16).clip_starts(), 1);
    }

    #[test]
    fn truth_frames_become_the_overlapping_clip_starts() {
        let mut t = trace(100, 16); // N = 85
        t.truth = Some((40, 60)); // frames 40..=59
                                  // Start 25 covers 25..=40 (touches frame 40); start 59 covers 59..=74 (touches frame 59).
        assert_eq!(t.truth_starts(), Some((25, 59)));
        t.truth = Some((0, 3));
        assert_eq!(t.truth_starts(), Some((0, 2)));
        t.truth = Some((95, 100)); // only the last clips reach the end of the video
        assert_eq!(t.truth_starts(), Some((80, 84)));
        t.truth = Some((10, 10));
        assert_eq!(t.truth_starts(), None);
        t.truth = Some((120, 130));
        assert_eq!(t.truth_starts(), None);
    }

    #[test]
    fn apex_maps_to_the_centred_clip() {
        let mut t = trace(100, 16);
        t.apex = Some(50);
        assert_eq!(t.apex_start(), Some(43)); // clip 43..=58 has frame 50 in its middle
        t.apex = Some(3);
        assert_eq!(t.apex_start(), Some(0));
        t.apex = Some(99);
        assert_eq!(t.apex_start(), Some(84));
        t.apex = Some(100);
        assert_eq!(t.apex_start(), None);
    }

    #[test]
    fn bad_traces_are_errors_not_panics() {
        assert!(trace(0, 16).validate().is_err());
        assert!(trace(50, 0).validate().is_err());
        let mut t = trace(50, 16);
        t.final_scores.pop();
        assert!(t.validate().unwrap_err().to_string().contains("34 scores for 35"));
        let mut t = trace(50, 16);
        t.picks.push((2, 35, "exploitation".into()));
        assert!(t.validate().is_err());
        let mut t = trace(50, 16);
        t.picks.clear();
        t.final_scores.clear();
        assert!(t.validate().is_err());
        let mut t = trace(50, 16);
        t.final_scores[3] = f32::NAN;
        assert!(t.validate().is_ok());
    }

    fn scores_plot(k: usize, w: usize) -> WindowScoresPlot {
        WindowScoresPlot {
            title: "v".into(),
            classes: (0..k).map(|c| format!("c{c}")).collect(),
            starts: (0..w).map(|j| 4 * j).collect(),
            window_len: 16,
            video_len: 4 * w + 12,
            scores: vec![vec![0.0; w]; k],
            weights: vec![vec![1.0 / w as f64; w]; k],
            pooled: vec![0.0; k],
            predicted: 0,
            pooling: "mean".into(),
        }
    }

    #[test]
    fn probabilities_are_the_softmax_of_the_pooled_scores() {
        let mut p = scores_plot(2, 3);
        p.pooled = vec![0.0, 3f64.ln()];
        let probs = p.probabilities();
        assert!(
            (probs[0] - 0.25).abs() < 1e-12 && (probs[1] - 0.75).abs() < 1e-12,
            "{probs:?}"
        );
        // Large logits do not overflow; a NaN class is left out of the normalisation.
        p.pooled = vec![1000.0, f64::NAN];
        let probs = p.probabilities();
        assert_eq!(probs[0], 1.0);
        assert!(probs[1].is_nan());
    }

    #[test]
    fn bad_window_scores_name_the_field() {
        let err = |p: WindowScoresPlot| p.validate().unwrap_err().to_string();
        assert!(scores_plot(3, 5).validate().is_ok());
        assert!(err(scores_plot(0, 5)).contains("classes is empty"));
        assert!(err(scores_plot(3, 0)).contains("starts is empty"));
        let mut p = scores_plot(3, 5);
        p.starts[3] = p.starts[2];
        assert!(err(p).contains("starts[3] = 8 follows 8"));
        let mut p = scores_plot(3, 5);
        p.starts[4] = p.video_len;
        assert!(err(p).contains("starts[4] = 32 is past the video's 32 frames"));
        let mut p = scores_plot(3, 5);
        p.window_len = 0;
        assert!(err(p).contains("window_len is 0"));
        let mut p = scores_plot(3, 5);
        p.video_len = 0;
        assert!(err(p).contains("video_len is 0"));
        let mut p = scores_plot(3, 5);
        p.scores.pop();
        assert!(err(p).contains("scores has 2 rows for 3 classes"));
        let mut p = scores_plot(3, 5);
        p.weights[1].push(0.0);
        assert!(err(p).contains("weights[1] has 6 values for 5 windows"));
        let mut p = scores_plot(3, 5);
        p.weights[2][0] = 0.5;
        assert!(err(p).contains("weights[2] sums to 1.300, not 1"));
        let mut p = scores_plot(3, 5);
        p.weights[0] = vec![-0.5, 1.5, 0.0, 0.0, 0.0];
        assert!(err(p).contains("weights[0][0] = -0.5 is negative"));
        let mut p = scores_plot(3, 5);
        p.pooled.push(1.0);
        assert!(err(p).contains("pooled has 4 values for 3 classes"));
        let mut p = scores_plot(3, 5);
        p.predicted = 3;
        assert!(err(p).contains("predicted = 3 but there are 3 classes"));
        // NaN scores, and the NaN weights a NaN score gives its class, are drawn around.
        let mut p = scores_plot(3, 5);
        p.scores[1][2] = f64::NAN;
        p.weights[1] = vec![f64::NAN; 5];
        p.pooled[1] = f64::NAN;
        assert!(p.validate().is_ok());
    }
}

//! The plots the training loop and the run report write: training curves, and sampling maps in
//! the style of the paper's Figure 2 (where in each video the sampler picked its clip, epoch by
//! epoch, over the final score distribution). Rendering lives in `curves` and `sampling`; this
//! file holds the public types, input checks and file output.

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

/// Size of a training-curves picture.
pub(crate) const CURVES_SIZE: (u32, u32) = (1000, 820);
/// Size of one sampling map, alone or as a cell of a grid.
pub(crate) const MAP_SIZE: (u32, u32) = (1000, 900);
/// Columns of the grid of sampling maps.
const GRID_COLS: usize = 2;
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
}

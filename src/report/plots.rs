//! The plots the training loop, the run report and `predict` write: training curves, sampling
//! maps in the style of the paper's Figure 2 (where in each video the sampler picked its clip,
//! epoch by epoch, over the final score distribution), and one video's window scores over time.
//! Rendering lives in `curves`, `sampling` and `window_scores`, each with its input type (and that
//! type's checks); this file holds the picture sizes, the entry points and file output.

use std::path::Path;

use super::canvas::Canvas;
pub use super::curves::EpochPoint;
pub use super::sampling::SamplingTrace;
pub use super::window_scores::WindowScoresPlot;
use super::{curves, sampling};
use crate::error::{Error, Result};

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

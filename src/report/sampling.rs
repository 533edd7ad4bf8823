//! The sampling map of one video (the paper's Figure 2): the final score distribution w over clip
//! starts on top, and below it one dot per epoch at the clip start the sampler chose, coloured
//! by phase, epoch 1 at the top so the map reads downwards like a training log. The known
//! informative segment is shaded behind both panels and the apex is marked, so one can see at a
//! glance whether sampling concentrated where the signal is.

use super::axes::{self, Axes, Rect, Side, TEXT};
use super::canvas::{Canvas, Color, Marker};
use super::legend::{self, Key};
use super::palette::{self, phase_color, BLACK, INK, WHITE};
use super::text;
use crate::error::{Error, Result};

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

/// The score curve: dark, so it reads over the shading.
const SCORE_LINE: Color = [50, 50, 50];
/// Fill under the score curve, blended so the truth shading shows through.
const SCORE_AREA: Color = [110, 110, 110];
const SCORE_AREA_ALPHA: f64 = 0.28;
pub(crate) const TRUTH_SHADE: Color = [204, 236, 227]; // Okabe-Ito bluish green, mostly white
const APEX: Color = BLACK;
/// Phase names in the order the schedule runs them, for a stable legend.
const PHASE_ORDER: [&str; 3] = ["warm-up", "exploration", "exploitation"];

/// Where the panels ended up, so tests can find data on the picture.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Layout {
    pub scores: Axes,
    pub map: Axes,
}

/// Exploration picks are drawn as (slightly larger) diamonds: a second cue besides colour for
/// readers who cannot tell red from the other phases.
fn phase_marker(phase: &str) -> (Marker, i64) {
    if phase_color(phase) == palette::EXPLORATION {
        (Marker::Diamond, 1)
    } else {
        (Marker::Circle, 0)
    }
}

/// The score at fractional clip start `x`, linearly interpolated; None past the ends or next to
/// a NaN (so NaN leaves a gap instead of a made-up value).
fn score_at(scores: &[f32], x: f64) -> Option<f64> {
    if scores.len() == 1 {
        let v = scores[0] as f64;
        return v.is_finite().then_some(v);
    }
    if !(0.0..=(scores.len() - 1) as f64).contains(&x) {
        return None;
    }
    let i = (x.floor() as usize).min(scores.len() - 2);
    let t = x - i as f64;
    let (a, b) = (scores[i] as f64, scores[i + 1] as f64);
    (a.is_finite() && b.is_finite()).then_some(a + t * (b - a))
}

pub(crate) fn render(trace: &SamplingTrace, width: u32, height: u32) -> Result<(Canvas, Layout)> {
    trace.validate()?;
    let n = trace.clip_starts();
    let scores = &trace.final_scores;
    let score_range = axes::data_range(scores.iter().map(|&v| v as f64), 0.08);
    let epochs = || trace.picks.iter().map(|p| p.0);
    let (e_min, e_max) = (epochs().min().unwrap_or(1), epochs().max().unwrap_or(1));

    // Pad both map axes by about 1-2 % so dots on the first/last start or epoch are not cut in
    // half by the frame; at least half a unit so each start or epoch keeps its own column or row.
    let pad_x = (0.012 * n as f64).max(0.5);
    let pad_e = (0.02 * (e_max - e_min) as f64).max(1.0);
    let x_range = (-pad_x, n as f64 - 1.0 + pad_x);
    let y_scores = score_range.unwrap_or((0.0, 1.0));
    let y_epochs = (e_min as f64 - pad_e, e_max as f64 + pad_e);
    // Ticks only where a value exists: no "epoch 0" or "start -1" from the padding.
    let within = |ticks: Vec<(f64, String)>, lo: f64, hi: f64| -> Vec<(f64, String)> {
        ticks.into_iter().filter(|t| t.0 >= lo && t.0 <= hi).collect()
    };
    let x_ticks = within(axes::nice_ticks(x_range.0, x_range.1, 10, true), 0.0, (n - 1) as f64);
    let score_ticks = axes::nice_ticks(y_scores.0, y_scores.1, 5, false);
    let epoch_ticks = within(
        axes::nice_ticks(y_epochs.0, y_epochs.1, 8, true),
        e_min as f64,
        e_max as f64,
    );
    let tick_w = score_ticks
        .iter()
        .chain(&epoch_ticks)
        .map(|t| Canvas::text_width(&t.1, TEXT))
        .max()
        .unwrap_or(0);

    // Legend: phases present (schedule order, then any unknown names), then the overlays.
    let mut phases: Vec<&str> = PHASE_ORDER
        .into_iter()
        .filter(|ph| trace.picks.iter().any(|p| phase_color(&p.2) == phase_color(ph)))
        .collect();
    for p in &trace.picks {
        if phase_color(&p.2) == palette::OTHER_PHASE && !phases.contains(&p.2.as_str()) {
            phases.push(&p.2);
        }
    }
    let mut entries: Vec<(Key, String)> = phases
        .iter()
        .map(|ph| (Key::Marker(phase_marker(ph).0, phase_color(ph)), format!("{ph} pick")))
        .collect();
    entries.push((Key::Line(SCORE_LINE), "final score w".into()));
    let truth = trace.truth_starts();
    if let (Some((a, b)), Some(_)) = (trace.truth, truth) {
        entries.push((Key::Swatch(TRUTH_SHADE), format!("informative frames {a}-{}", b - 1)));
    }
    let apex = trace.apex_start();
    if let (Some(frame), Some(_)) = (trace.apex, apex) {
        entries.push((Key::Dashed(APEX), format!("apex (frame {frame})")));
    }

    let mut c = Canvas::new(width, height, WHITE)?;
    let (w, h) = (width as i64, height as i64);
    let left = axes::y_axis_room(tick_w, 2) + 10;
    let right = 30;
    let plot_w = w - left - right;
    let mut y = text::title(&mut c, &format!("Sampling map: video {}", trace.video_id), 14, w, BLACK);
    let sub = format!(
        "L = {} frames, F = {}, N = {n} clip starts, {} epochs",
        trace.video_len,
        trace.clip_len,
        trace.picks.len()
    );
    let sub = text::fit(&sub, w - 24, TEXT);
    c.text((w - Canvas::text_width(&sub, TEXT)) / 2, y + 8, &sub, TEXT, INK);
    y += 8 + Canvas::text_height(TEXT) + 12;
    legend::draw(&mut c, &entries, left, y, plot_w);
    let top = y + legend::height(&entries, plot_w) + 8;
    let avail = h - top - axes::x_axis_room() - 10;
    let gap = 14;
    let score_h = (avail - gap) * 36 / 100;
    let map_h = avail - gap - score_h;
    if plot_w < 50 || score_h < 40 {
        return Err(Error::argument(
            "sampling_map",
            format!("{width}x{height} is too small"),
        ));
    }
    let score_ax = Axes {
        rect: Rect {
            x: left,
            y: top,
            w: plot_w,
            h: score_h,
        },
        x: x_range,
        y: y_scores,
        y_down: false,
    };
    let map_ax = Axes {
        rect: Rect {
            x: left,
            y: top + score_h + gap,
            w: plot_w,
            h: map_h,
        },
        x: x_range,
        y: y_epochs,
        y_down: true,
    };

    // Back to front: truth shading, grids, apex, score area and line, picks, frames and labels.
    if let Some((s0, s1)) = truth {
        for ax in [&score_ax, &map_ax] {
            let x0 = ax.px(s0 as f64 - 0.5).round() as i64;
            let x1 = ax.px(s1 as f64 + 0.5).round() as i64;
            c.fill_rect(x0, ax.rect.y, x1 - x0, ax.rect.h, TRUTH_SHADE);
        }
    }
    let xs: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
    score_ax.grid(&mut c, &xs, &score_ticks.iter().map(|t| t.0).collect::<Vec<_>>());
    map_ax.grid(&mut c, &xs, &epoch_ticks.iter().map(|t| t.0).collect::<Vec<_>>());

    // The apex line goes under the data: a pick at the apex must stay visible.
    if let Some(s) = apex {
        for ax in [&score_ax, &map_ax] {
            let x = ax.px(s as f64).round() as i64;
            for dx in 0..2 {
                c.dashed_line(x + dx, ax.rect.y, x + dx, ax.rect.bottom() - 1, (8, 5), APEX);
            }
        }
    }

    if score_range.is_some() {
        let r = score_ax.rect;
        for px in r.x..r.right() {
            let x = x_range.0 + (px - r.x) as f64 / (r.w - 1) as f64 * (x_range.1 - x_range.0);
            if let Some(v) = score_at(scores, x) {
                let y0 = score_ax.py(v).round() as i64;
                c.fill_rect_alpha(px, y0, 1, r.bottom() - y0, SCORE_AREA, SCORE_AREA_ALPHA);
            }
        }
        let pts: Vec<(f64, f64)> = if n == 1 {
            vec![(x_range.0, scores[0] as f64), (x_range.1, scores[0] as f64)]
        } else {
            scores.iter().enumerate().map(|(i, &v)| (i as f64, v as f64)).collect()
        };
        for seg in pts.windows(2) {
            let (a, b) = (seg[0], seg[1]);
            if a.1.is_finite() && b.1.is_finite() {
                c.thick_line(
                    (score_ax.px(a.0), score_ax.py(a.1)),
                    (score_ax.px(b.0), score_ax.py(b.1)),
                    2,
                    SCORE_LINE,
                );
            }
        }
    } else {
        let note = if scores.is_empty() {
            "no final scores"
        } else {
            "no finite scores"
        };
        let nw = Canvas::text_width(note, TEXT);
        c.text(
            score_ax.rect.x + (score_ax.rect.w - nw) / 2,
            score_ax.rect.y + score_h / 2 - 9,
            note,
            TEXT,
            INK,
        );
    }

    // Dots about one epoch row tall, but never so small they vanish or so big they merge badly.
    let row_h = map_h as f64 / (y_epochs.1 - y_epochs.0);
    let r = ((row_h * 0.45).floor() as i64).clamp(2, 6);
    for (epoch, start, phase) in &trace.picks {
        let (shape, extra) = phase_marker(phase);
        let (x, y) = (
            map_ax.px(*start as f64).round() as i64,
            map_ax.py(*epoch as f64).round() as i64,
        );
        c.marker(x, y, r + extra, shape, phase_color(phase));
    }

    for ax in [&score_ax, &map_ax] {
        ax.frame(&mut c);
    }
    // The score panel shares the map's x axis: tick marks only, numbers once below the map.
    let unlabeled: Vec<(f64, String)> = x_ticks.iter().map(|t| (t.0, String::new())).collect();
    score_ax.x_ticks(&mut c, &unlabeled);
    map_ax.x_ticks(&mut c, &x_ticks);
    let tw = score_ax.y_ticks(&mut c, &score_ticks, Side::Left, INK);
    score_ax.y_label(&mut c, "score w\n(true-class logit)", Side::Left, tw, INK);
    let tw = map_ax.y_ticks(&mut c, &epoch_ticks, Side::Left, INK);
    map_ax.y_label(&mut c, "epoch\n(1 at top)", Side::Left, tw, INK);
    let x_label = format!("clip start s (the clip covers frames s..s+{})", trace.clip_len - 1);
    map_ax.x_label(&mut c, &text::fit(&x_label, plot_w, TEXT));
    Ok((
        c,
        Layout {
            scores: score_ax,
            map: map_ax,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    /// L = 115, F = 16 (N = 100); warm-up, the 5 exploration slots, then exploitation around the
    /// truth segment; a NaN in the scores.
    fn trace() -> SamplingTrace {
        let mut picks: Vec<(usize, usize, String)> = [(1, 10), (2, 50), (3, 90)]
            .iter()
            .map(|&(e, s)| (e, s, "warm-up".to_string()))
            .collect();
        for (i, s) in [74, 0, 49, 99, 24].into_iter().enumerate() {
            picks.push((4 + i, s, "exploration".into()));
        }
        for e in 9..=20 {
            picks.push((e, 40 + (e * 7) % 25, "exploitation".into()));
        }
        let mut final_scores: Vec<f32> = (0..100)
            .map(|s| (-((s as f32 - 50.0) / 12.0).powi(2)).exp() * 3.0)
            .collect();
        final_scores[20] = f32::NAN;
        SamplingTrace {
            video_id: "t".into(),
            video_len: 115,
            clip_len: 16,
            picks,
            final_scores,
            truth: Some((40, 70)),
            apex: Some(55),
        }
    }

    /// Renders through PNG bytes and back, so the checks see what a reader of the file sees.
    fn decoded(t: &SamplingTrace) -> (RgbImage, Layout) {
        let (c, layout) = render(t, 1000, 900).unwrap();
        let mut bytes = Vec::new();
        c.encode_png(&mut bytes).unwrap();
        (image::load_from_memory(&bytes).unwrap().to_rgb8(), layout)
    }

    fn at(img: &RgbImage, x: f64, y: f64) -> Color {
        img.get_pixel(x.round() as u32, y.round() as u32).0
    }

    #[test]
    fn every_pick_is_a_dot_of_its_phase_colour_at_its_start_and_epoch() {
        let t = trace();
        let (img, lay) = decoded(&t);
        for (epoch, start, phase) in &t.picks {
            let (x, y) = (lay.map.px(*start as f64), lay.map.py(*epoch as f64));
            assert_eq!(at(&img, x, y), phase_color(phase), "epoch {epoch} start {start}");
        }
    }

    #[test]
    fn exploration_red_sits_only_in_the_column_of_its_start() {
        let t = trace();
        let (img, lay) = decoded(&t);
        // Epoch 6 explored start 49: on that row, red appears only within a dot radius of it.
        let row = lay.map.py(6.0).round() as u32;
        let x49 = lay.map.px(49.0);
        let red: Vec<u32> = (0..img.width())
            .filter(|&x| img.get_pixel(x, row).0 == palette::EXPLORATION)
            .collect();
        assert!(!red.is_empty());
        assert!(
            red.iter().all(|&x| (x as f64 - x49).abs() <= 8.0),
            "red at {red:?}, start at {x49}"
        );
        // Epoch 1 to 3 rows hold no red at all (warm-up).
        for e in 1..=3 {
            let row = lay.map.py(e as f64).round() as u32;
            assert!((0..img.width()).all(|x| img.get_pixel(x, row).0 != palette::EXPLORATION));
        }
    }

    #[test]
    fn truth_segment_is_shaded_only_over_overlapping_starts() {
        let t = trace();
        let (img, lay) = decoded(&t);
        // Frames 40..70 with F = 16: starts 25..=69 overlap it.
        assert_eq!(t.truth_starts(), Some((25, 69)));
        let y = lay.map.py(19.5); // between epoch rows: no dots
        assert_eq!(at(&img, lay.map.px(27.3), y), TRUTH_SHADE);
        assert_eq!(at(&img, lay.map.px(67.6), y), TRUTH_SHADE);
        assert_eq!(at(&img, lay.map.px(23.6), y), WHITE);
        assert_eq!(at(&img, lay.map.px(71.4), y), WHITE);
    }

    #[test]
    fn apex_line_and_score_curve_are_drawn() {
        let t = trace();
        let (img, lay) = decoded(&t);
        // Apex frame 55 -> centred clip start 48; the dashed line is black somewhere in that column.
        assert_eq!(t.apex_start(), Some(48));
        let x = lay.scores.px(48.0).round() as u32;
        let r = lay.scores.rect;
        assert!((r.y as u32..r.bottom() as u32).any(|y| img.get_pixel(x, y).0 == APEX));
        // The score curve passes through its value at start 80 (line 2 px wide: allow 1 px).
        let (sx, sy) = (lay.scores.px(80.0), lay.scores.py(t.final_scores[80] as f64));
        let near = (-1..=1).any(|d| at(&img, sx, sy + d as f64) == SCORE_LINE);
        assert!(near, "no score line at start 80");
        // Next to the NaN at start 20 there is a gap: no line pixel in that column of the panel.
        let gx = lay.scores.px(20.0).round() as u32;
        assert!((r.y as u32 + 1..r.bottom() as u32 - 1).all(|y| img.get_pixel(gx, y).0 != SCORE_LINE));
    }

    #[test]
    fn all_nan_or_missing_scores_still_draw_the_picks() {
        let mut t = trace();
        t.final_scores = vec![f32::NAN; 100];
        let (img, lay) = decoded(&t);
        assert_eq!(at(&img, lay.map.px(0.0), lay.map.py(5.0)), palette::EXPLORATION);
        t.final_scores.clear();
        assert!(render(&t, 1000, 900).is_ok());
    }

    #[test]
    fn one_clip_videos_and_long_runs_render() {
        let t = SamplingTrace {
            video_id: "short".into(),
            video_len: 10,
            clip_len: 16,
            picks: (1..=200).map(|e| (e, 0, "exploitation".to_string())).collect(),
            final_scores: vec![0.7],
            truth: Some((0, 10)),
            apex: Some(4),
        };
        let (img, lay) = decoded(&t);
        assert_eq!(at(&img, lay.map.px(0.0), lay.map.py(100.0)), palette::EXPLOITATION);
    }

    #[test]
    fn score_interpolation_skips_nan_and_ends() {
        let s = [0.0f32, 2.0, f32::NAN, 1.0];
        assert_eq!(score_at(&s, 0.5), Some(1.0));
        assert_eq!(score_at(&s, 1.5), None);
        assert_eq!(score_at(&s, 3.0), None);
        assert_eq!(score_at(&s, -0.1), None);
        assert_eq!(score_at(&[1.5], 7.0), Some(1.5));
    }
}

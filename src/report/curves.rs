//! Training curves: loss (top) and accuracy (bottom) against epoch, train and validation,
//! over background bands that show the sampling phase of each epoch.

use super::axes::{self, Axes, Rect, Side, TEXT};
use super::canvas::{Canvas, Color, Marker};
use super::legend::{self, Key};
use super::palette::{self, phase_color, tint, BLACK, INK, WHITE};
use super::text;
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

const TRAIN: Color = palette::GREEN;
const VAL: Color = palette::ORANGE;
/// Past this many points, per-point markers would merge into a smear; the line alone reads better.
const MAX_MARKED: usize = 60;

/// Where the panels ended up, so tests can find data on the picture.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Layout {
    pub loss: Axes,
    pub acc: Axes,
}

/// Consecutive epochs sharing a phase: (first epoch, last epoch, phase).
fn phase_runs(points: &[&EpochPoint]) -> Vec<(usize, usize, String)> {
    let mut runs: Vec<(usize, usize, String)> = Vec::new();
    for p in points {
        match runs.last_mut() {
            Some(run) if run.2 == p.phase => run.1 = p.epoch,
            _ => runs.push((p.epoch, p.epoch, p.phase.clone())),
        }
    }
    runs
}

/// (epoch, value) pairs in epoch order. A missing value (not measured that epoch) is left out,
/// so the line runs on past it; a NaN or infinite value (measured, but broken) is kept as NaN,
/// which breaks the line there and is skipped by ranges and the best-loss search.
fn series(points: &[&EpochPoint], value: impl Fn(&EpochPoint) -> Option<f64>) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|p| value(p).map(|v| (p.epoch as f64, if v.is_finite() { v } else { f64::NAN })))
        .collect()
}

fn finite(pts: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    pts.iter().copied().filter(|p| p.1.is_finite())
}

fn draw_series(c: &mut Canvas, ax: &Axes, pts: &[(f64, f64)], color: Color, marker: Marker) {
    for w in pts.windows(2) {
        if w[0].1.is_finite() && w[1].1.is_finite() {
            c.thick_line((ax.px(w[0].0), ax.py(w[0].1)), (ax.px(w[1].0), ax.py(w[1].1)), 3, color);
        }
    }
    // Markers while they stay apart; a point between two breaks has no line, so it always gets one.
    let n = finite(pts).count();
    for (i, &(x, y)) in pts.iter().enumerate() {
        let isolated = (i == 0 || !pts[i - 1].1.is_finite()) && pts.get(i + 1).is_none_or(|q| !q.1.is_finite());
        if y.is_finite() && (n <= MAX_MARKED || isolated) {
            c.marker(ax.px(x).round() as i64, ax.py(y).round() as i64, 4, marker, color);
        }
    }
}

pub(crate) fn render(points: &[EpochPoint], title: &str, width: u32, height: u32) -> Result<(Canvas, Layout)> {
    if points.is_empty() {
        return Err(Error::argument("training_curves", "no epochs to plot"));
    }
    let mut sorted: Vec<&EpochPoint> = points.iter().collect();
    sorted.sort_by_key(|p| p.epoch);
    let train_loss = series(&sorted, |p| Some(p.train_loss));
    let val_loss = series(&sorted, |p| p.val_loss);
    let train_acc = series(&sorted, |p| Some(p.train_acc));
    let val_acc = series(&sorted, |p| p.val_acc);

    let first = sorted[0].epoch as f64;
    let last = sorted[sorted.len() - 1].epoch as f64;
    let x_range = (first - 0.5, last + 0.5);

    let losses = || finite(&train_loss).chain(finite(&val_loss)).map(|p| p.1);
    let loss_range = axes::data_range(losses(), 0.06).map(|(lo, hi)| {
        // Losses are never negative: do not let padding invent a negative axis.
        let lo = if losses().all(|v| v >= 0.0) { lo.max(0.0) } else { lo };
        // Headroom at the top for the phase names and the best-loss label.
        (lo, hi + 0.12 * (hi - lo))
    });
    let accs = || finite(&train_acc).chain(finite(&val_acc)).map(|p| p.1);
    let acc_range = if accs().next().is_some() && accs().all(|v| (0.0..=1.0).contains(&v)) {
        // Fractions: always show the whole 0..1 scale so runs compare at a glance.
        Some((-0.02, 1.02))
    } else {
        axes::data_range(accs(), 0.06)
    };

    let x_ticks = axes::nice_ticks(x_range.0, x_range.1, 10, true);
    // With nothing finite to show, panels keep a unit range and say so (see below).
    let loss_y = loss_range.unwrap_or((0.0, 1.0));
    let acc_y = acc_range.unwrap_or((0.0, 1.0));
    let loss_ticks = axes::nice_ticks(loss_y.0, loss_y.1, 6, false);
    let acc_ticks = axes::nice_ticks(acc_y.0, acc_y.1, 6, false);
    let tick_w = loss_ticks
        .iter()
        .chain(&acc_ticks)
        .map(|t| Canvas::text_width(&t.1, TEXT))
        .max()
        .unwrap_or(0);

    let best = val_loss
        .iter()
        .copied()
        .fold(None, |best: Option<(f64, f64)>, p| match best {
            Some(b) if b.1 <= p.1 => Some(b),
            _ => Some(p),
        });

    // Legend: the series, the best-loss marker, then the phases in order of appearance.
    let runs = phase_runs(&sorted);
    let mut entries = vec![
        (Key::Line(TRAIN), "train".to_string()),
        (Key::Line(VAL), "validation".to_string()),
    ];
    if best.is_some() {
        entries.push((Key::Marker(Marker::Ring, BLACK), "best validation loss".to_string()));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (_, _, phase) in &runs {
        if !seen.contains(&phase.as_str()) {
            seen.push(phase);
            entries.push((Key::Swatch(band_color(phase)), phase.clone()));
        }
    }

    let mut c = Canvas::new(width, height, WHITE)?;
    let (w, h) = (width as i64, height as i64);
    let left = axes::y_axis_room(tick_w, 1) + 14;
    let right = 30;
    let plot_w = w - left - right;
    let below_title = text::title(&mut c, title, 14, w, BLACK);
    let legend_y = below_title + 14;
    legend::draw(&mut c, &entries, left, legend_y, plot_w);
    let top = legend_y + legend::height(&entries, plot_w) + 10;
    // The top panel keeps its tick labels (reading epochs off it directly); the gap holds them.
    let gap = axes::x_axis_room() - Canvas::text_height(TEXT);
    let panel_h = (h - top - gap - axes::x_axis_room() - 8) / 2;
    if plot_w < 50 || panel_h < 50 {
        return Err(Error::argument(
            "training_curves",
            format!("{width}x{height} is too small"),
        ));
    }
    let loss_ax = Axes {
        rect: Rect {
            x: left,
            y: top,
            w: plot_w,
            h: panel_h,
        },
        x: x_range,
        y: loss_y,
        y_down: false,
    };
    let acc_ax = Axes {
        rect: Rect {
            x: left,
            y: top + panel_h + gap,
            w: plot_w,
            h: panel_h,
        },
        y: acc_y,
        ..loss_ax
    };

    let xs: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
    for (ax, ticks) in [(&loss_ax, &loss_ticks), (&acc_ax, &acc_ticks)] {
        for (e0, e1, phase) in &runs {
            let x0 = ax.px(*e0 as f64 - 0.5).round() as i64;
            let x1 = ax.px(*e1 as f64 + 0.5).round() as i64;
            c.fill_rect(x0, ax.rect.y, x1 - x0, ax.rect.h, band_color(phase));
        }
        let ys: Vec<f64> = ticks.iter().map(|t| t.0).collect();
        ax.grid(&mut c, &xs, &ys);
    }
    if let Some((epoch, _)) = best {
        for ax in [&loss_ax, &acc_ax] {
            let x = ax.px(epoch).round() as i64;
            c.dashed_line(x, ax.rect.y, x, ax.rect.bottom() - 1, (6, 4), INK);
        }
    }
    draw_series(&mut c, &loss_ax, &train_loss, TRAIN, Marker::Circle);
    draw_series(&mut c, &loss_ax, &val_loss, VAL, Marker::Diamond);
    draw_series(&mut c, &acc_ax, &train_acc, TRAIN, Marker::Circle);
    draw_series(&mut c, &acc_ax, &val_acc, VAL, Marker::Diamond);

    for (ax, ticks, range, name) in [
        (&loss_ax, &loss_ticks, loss_range, "loss"),
        (&acc_ax, &acc_ticks, acc_range, "accuracy"),
    ] {
        // Phase names inside their bands, where there is room: the legend says the same, but a
        // label on the band is read without looking away.
        if name == "loss" {
            for (e0, e1, phase) in &runs {
                let x0 = ax.px(*e0 as f64 - 0.5);
                let x1 = ax.px(*e1 as f64 + 0.5);
                let tw = Canvas::text_width(phase, TEXT) as f64;
                if x1 - x0 >= tw + 10.0 {
                    let tx = (x0 + (x1 - x0 - tw) / 2.0).round() as i64;
                    c.text(tx, ax.rect.y + 8, phase, TEXT, palette::darker(phase_color(phase)));
                }
            }
        }
        if range.is_none() {
            let note = "no finite values";
            let nw = Canvas::text_width(note, TEXT);
            c.text(
                ax.rect.x + (ax.rect.w - nw) / 2,
                ax.rect.y + ax.rect.h / 2,
                note,
                TEXT,
                INK,
            );
        }
        ax.frame(&mut c);
        ax.x_ticks(&mut c, &x_ticks);
        let tw = ax.y_ticks(&mut c, ticks, Side::Left, INK);
        ax.y_label(&mut c, name, Side::Left, tw, INK);
    }
    acc_ax.x_label(&mut c, "epoch");

    if let Some((epoch, loss)) = best {
        let (x, y) = (loss_ax.px(epoch).round() as i64, loss_ax.py(loss).round() as i64);
        c.marker(x, y, 10, Marker::Ring, BLACK);
        let label = format!("best {} (epoch {epoch})", text::short_number(loss));
        let lw = Canvas::text_width(&label, TEXT);
        // At the top of the panel beside the dashed best-epoch line (right of it when it fits),
        // below the band names: the curves rarely reach up there once the loss has fallen.
        let r = loss_ax.rect;
        let lx = if x + 8 + lw < r.right() - 4 { x + 8 } else { x - 8 - lw };
        let ly = r.y + 8 + Canvas::text_height(TEXT) + 6;
        c.fill_rect_alpha(lx - 3, ly - 3, lw + 6, Canvas::text_height(TEXT) + 4, WHITE, 0.8);
        c.text(lx, ly, &label, TEXT, BLACK);
    }
    Ok((
        c,
        Layout {
            loss: loss_ax,
            acc: acc_ax,
        },
    ))
}

/// The pale background of a phase band: the phase colour mixed mostly with white, so curves in
/// full colour stay the thing the eye sees first.
pub(crate) fn band_color(phase: &str) -> Color {
    tint(phase_color(phase), 0.86)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn point(epoch: usize, phase: &str, loss: f64, val: Option<f64>) -> EpochPoint {
        EpochPoint {
            epoch,
            phase: phase.into(),
            train_loss: loss,
            train_acc: 1.0 - loss / 3.0,
            val_loss: val,
            val_acc: val.map(|v| 1.0 - v / 3.0),
            lr: 0.01,
        }
    }

    #[test]
    fn runs_group_consecutive_phases() {
        let pts = [
            point(1, "warm-up", 2.0, None),
            point(2, "warm-up", 1.9, None),
            point(3, "exploration", 1.8, None),
            point(4, "exploitation", 1.7, None),
        ];
        let refs: Vec<&EpochPoint> = pts.iter().collect();
        let runs = phase_runs(&refs);
        assert_eq!(runs.len(), 3);
        assert_eq!((runs[0].0, runs[0].1), (1, 2));
        assert_eq!(runs[2].2, "exploitation");
    }

    #[test]
    fn nan_values_are_skipped_not_fatal() {
        let pts = [
            point(1, "warm-up", 2.0, Some(f64::NAN)),
            point(2, "warm-up", f64::NAN, None),
            point(3, "exploration", f64::INFINITY, Some(1.5)),
        ];
        let refs: Vec<&EpochPoint> = pts.iter().collect();
        let train = series(&refs, |p| Some(p.train_loss));
        assert_eq!(finite(&train).collect::<Vec<_>>(), vec![(1.0, 2.0)]);
        assert_eq!(train.len(), 3, "NaN and inf stay, as line breaks");
        let val = series(&refs, |p| p.val_loss);
        assert_eq!(val.len(), 2, "a missing value is left out");
        assert_eq!(finite(&val).collect::<Vec<_>>(), vec![(3.0, 1.5)]);
        assert!(render(&pts, "nan", 1000, 820).is_ok());
        let all_nan = [point(1, "warm-up", f64::NAN, None)];
        assert!(render(&all_nan, "all nan", 1000, 820).is_ok());
    }

    #[test]
    fn a_nan_breaks_the_line_and_a_missing_value_does_not() {
        let mut pts: Vec<EpochPoint> = (1..=20)
            .map(|e| point(e, "exploitation", 3.0 - 0.1 * e as f64, None))
            .collect();
        pts[9].train_loss = f64::NAN; // epoch 10
        for p in pts.iter_mut().filter(|p| p.epoch % 4 == 0) {
            p.val_loss = Some(3.2 - 0.1 * p.epoch as f64); // measured every 4th epoch only
        }
        let (c, lay) = render(&pts, "gaps", 1000, 820).unwrap();
        let ax = lay.loss;
        let column_has = |x: f64, color: Color| {
            let x = x.round() as i64;
            (ax.rect.y..ax.rect.bottom()).any(|y| c.pixel(x, y) == Some(color))
        };
        assert!(
            !column_has(ax.px(10.0), TRAIN),
            "train line drawn through the NaN epoch"
        );
        assert!(column_has(ax.px(12.5), TRAIN));
        // Validation is joined across the unmeasured epochs 9..11.
        assert!(column_has(ax.px(10.0), VAL));
    }

    #[test]
    fn empty_or_tiny_is_an_error() {
        assert!(render(&[], "t", 1000, 820).is_err());
        assert!(render(&[point(1, "warm-up", 1.0, None)], "t", 120, 100).is_err());
    }

    #[test]
    fn curves_and_bands_land_where_the_axes_say() {
        let pts: Vec<EpochPoint> = (1..=20)
            .map(|e| {
                let phase = if e <= 3 {
                    "warm-up"
                } else if e <= 8 {
                    "exploration"
                } else {
                    "exploitation"
                };
                point(e, phase, 2.0 / e as f64, Some(2.2 / e as f64 + 0.1))
            })
            .collect();
        let (c, lay) = render(&pts, "test", 1000, 820).unwrap();
        let ax = lay.loss;
        // Train-loss marker at epoch 10 is drawn in the train colour.
        let (x, y) = (ax.px(10.0).round() as i64, ax.py(0.2).round() as i64);
        assert_eq!(c.pixel(x, y), Some(TRAIN));
        // ... and so is the train accuracy marker of that epoch in the lower panel.
        let acc = lay.acc;
        assert_eq!(
            c.pixel(acc.px(10.0).round() as i64, acc.py(1.0 - 0.2 / 3.0).round() as i64),
            Some(TRAIN)
        );
        // Band colours sit in empty parts of the panel: warm-up near the left, exploitation right.
        let low = ax.rect.bottom() - 3;
        assert_eq!(c.pixel(ax.px(1.7).round() as i64, low), Some(band_color("warm-up")));
        assert_eq!(c.pixel(ax.px(6.3).round() as i64, low), Some(band_color("exploration")));
        assert_eq!(
            c.pixel(ax.px(17.3).round() as i64, ax.rect.y + 60),
            Some(band_color("exploitation"))
        );
    }
}

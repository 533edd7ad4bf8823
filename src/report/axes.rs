//! A plot panel: the mapping from data to pixels inside a rectangle, "nice" tick positions, and
//! the drawing of grid, frame, tick labels and axis labels around it.

use super::canvas::{Canvas, Color};
use super::palette::{GRID, INK};

/// Text scale used for every label: 5×9 font pixels become 10×18 screen pixels, readable when a
/// plot is shown scaled down in a README.
pub const TEXT: u32 = 2;
const TICK_LEN: i64 = 6;
const GAP: i64 = 6;
/// Between the lines of a multi-line axis title.
const LINE_GAP: i64 = 4;

/// A pixel rectangle: x..x+w, y..y+h.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

impl Rect {
    pub fn right(&self) -> i64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> i64 {
        self.y + self.h
    }
}

/// Which side of the panel a y axis is drawn on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// A panel with its data ranges. `y_down` puts the low end of y at the top (for epoch axes
/// that read like a log, first epoch first).
#[derive(Clone, Copy, Debug)]
pub struct Axes {
    pub rect: Rect,
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub y_down: bool,
}

impl Axes {
    /// Pixel column of data x (fractional; the left edge of the rect is x.0).
    pub fn px(&self, x: f64) -> f64 {
        let (lo, hi) = self.x;
        self.rect.x as f64 + (x - lo) / (hi - lo) * (self.rect.w - 1) as f64
    }

    /// Pixel row of data y.
    pub fn py(&self, y: f64) -> f64 {
        let (lo, hi) = self.y;
        let t = (y - lo) / (hi - lo) * (self.rect.h - 1) as f64;
        if self.y_down {
            self.rect.y as f64 + t
        } else {
            (self.rect.bottom() - 1) as f64 - t
        }
    }

    /// Light grid lines at the given data positions, drawn first so data covers them.
    pub fn grid(&self, c: &mut Canvas, xs: &[f64], ys: &[f64]) {
        let r = self.rect;
        for &x in xs {
            let p = self.px(x).round() as i64;
            c.line(p, r.y, p, r.bottom() - 1, GRID);
        }
        for &y in ys {
            let p = self.py(y).round() as i64;
            c.line(r.x, p, r.right() - 1, p, GRID);
        }
    }

    pub fn frame(&self, c: &mut Canvas) {
        let r = self.rect;
        c.stroke_rect(r.x, r.y, r.w, r.h, INK);
    }

    /// Tick marks and their labels below the panel (labels centred on the ticks).
    pub fn x_ticks(&self, c: &mut Canvas, ticks: &[(f64, String)]) {
        let y0 = self.rect.bottom();
        for (v, label) in ticks {
            let p = self.px(*v).round() as i64;
            c.fill_rect(p, y0, 1, TICK_LEN, INK);
            let w = Canvas::text_width(label, TEXT);
            c.text(p - w / 2, y0 + TICK_LEN + GAP / 2, label, TEXT, INK);
        }
    }

    /// Tick marks and labels on the given side, labels vertically centred on the ticks. Returns
    /// the widest label's width so the axis title can be placed clear of it.
    pub fn y_ticks(&self, c: &mut Canvas, ticks: &[(f64, String)], side: Side, color: Color) -> i64 {
        let mut widest = 0;
        let th = Canvas::text_height(TEXT);
        for (v, label) in ticks {
            let p = self.py(*v).round() as i64;
            let w = Canvas::text_width(label, TEXT);
            widest = widest.max(w);
            // Digits occupy the top 7 of 9 font rows; centring those looks right.
            let ty = p - (th * 7 / 9) / 2;
            match side {
                Side::Left => {
                    c.fill_rect(self.rect.x - TICK_LEN, p, TICK_LEN, 1, color);
                    c.text(self.rect.x - TICK_LEN - GAP - w, ty, label, TEXT, color);
                }
                Side::Right => {
                    c.fill_rect(self.rect.right(), p, TICK_LEN, 1, color);
                    c.text(self.rect.right() + TICK_LEN + GAP, ty, label, TEXT, color);
                }
            }
        }
        widest
    }

    /// The x-axis title, centred below the tick labels.
    pub fn x_label(&self, c: &mut Canvas, text: &str) {
        let w = Canvas::text_width(text, TEXT);
        let y = self.rect.bottom() + TICK_LEN + GAP + Canvas::text_height(TEXT) + GAP;
        c.text(self.rect.x + (self.rect.w - w) / 2, y, text, TEXT, INK);
    }

    /// The y-axis title, turned to read bottom-up, beside tick labels `tick_w` pixels wide. A
    /// '\n' splits it into side-by-side lines (first line leftmost, as turned text reads), for titles longer than the
    /// panel is tall.
    pub fn y_label(&self, c: &mut Canvas, text: &str, side: Side, tick_w: i64, color: Color) {
        let th = Canvas::text_height(TEXT);
        let lines: Vec<&str> = text.split('\n').collect();
        let n = lines.len() as i64;
        for (i, line) in lines.iter().enumerate() {
            let len = Canvas::text_width(line, TEXT);
            let y = self.rect.y + (self.rect.h - len) / 2;
            let x = match side {
                Side::Left => self.rect.x - TICK_LEN - GAP - tick_w - GAP - (n - i as i64) * (th + LINE_GAP) + LINE_GAP,
                Side::Right => self.rect.right() + TICK_LEN + GAP + tick_w + GAP + i as i64 * (th + LINE_GAP),
            };
            c.text_vertical(x, y, line, TEXT, color);
        }
    }
}

/// Space to leave beside a panel for a y axis with labels `tick_w` wide and a title of `lines`
/// lines.
pub fn y_axis_room(tick_w: i64, lines: i64) -> i64 {
    TICK_LEN + GAP + tick_w + GAP + lines * (Canvas::text_height(TEXT) + LINE_GAP) + GAP
}

/// Space to leave below a panel for x tick labels and an x title.
pub fn x_axis_room() -> i64 {
    TICK_LEN + GAP + 2 * Canvas::text_height(TEXT) + 2 * GAP
}

/// The finite range of `values`, widened by `pad` (a fraction of the span) on both sides;
/// a constant series gets a unit-wide range so it still maps to a visible line. None if no
/// value is finite.
pub fn data_range(values: impl IntoIterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let span = hi - lo;
    if span <= f64::EPSILON * lo.abs().max(1.0) {
        return Some((lo - 0.5, hi + 0.5));
    }
    Some((lo - pad * span, hi + pad * span))
}

/// Round tick positions covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about
/// `target` of them. With `integer`, steps are whole numbers (epochs, clip starts).
pub fn nice_ticks(lo: f64, hi: f64, target: usize, integer: bool) -> Vec<(f64, String)> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    if integer {
        step = step.max(1.0).round();
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            // Avoid "-0" for a tick at zero computed from a negative multiple.
            let v = if v == 0.0 { 0.0 } else { v };
            (v, format!("{v:.decimals$}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round_and_inside_the_range() {
        let t = nice_ticks(0.0, 1.0, 5, false);
        let labels: Vec<&str> = t.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t = nice_ticks(0.3, 2.71, 5, false);
        assert_eq!(t.first().unwrap().1, "0.5");
        assert_eq!(t.last().unwrap().1, "2.5");
        let t = nice_ticks(-0.5, 3.5, 8, true);
        assert_eq!(t.iter().map(|p| p.0).collect::<Vec<_>>(), [0.0, 1.0, 2.0, 3.0]);
        let t = nice_ticks(0.5, 200.5, 6, true);
        assert_eq!(t.first().unwrap().0, 50.0);
        assert!(nice_ticks(1.0, 1.0, 5, false).is_empty());
        assert!(nice_ticks(f64::NAN, 1.0, 5, false).is_empty());
        assert_eq!(nice_ticks(-1.0, 1.0, 4, false)[2].1, "0.0");
    }

    #[test]
    fn data_range_skips_nan_and_widens_constants() {
        assert_eq!(data_range([1.0, f64::NAN, 3.0], 0.0), Some((1.0, 3.0)));
        assert_eq!(data_range([2.0, 2.0], 0.1), Some((1.5, 2.5)));
        assert_eq!(data_range([f64::NAN, f64::INFINITY], 0.1), None);
        assert_eq!(data_range([], 0.1), None);
    }

    #[test]
    fn mapping_hits_the_rect_edges() {
        let a = Axes {
            rect: Rect {
                x: 10,
                y: 20,
                w: 101,
                h: 51,
            },
            x: (0.0, 10.0),
            y: (0.0, 5.0),
            y_down: false,
        };
        assert_eq!((a.px(0.0), a.px(10.0)), (10.0, 110.0));
        assert_eq!((a.py(0.0), a.py(5.0)), (70.0, 20.0));
        let down = Axes { y_down: true, ..a };
        assert_eq!((down.py(0.0), down.py(5.0)), (20.0, 70.0));
    }
}

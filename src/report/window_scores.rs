//! One video's window scores over time, the picture `stsm-engine predict` can write beside its
//! answer. The video score is a pooling of many window scores, so the one number hides *when*
//! each class scored high and *which windows* decided: the top panel draws every class's window
//! score against the frame at the window's centre (the predicted class thick and on top), and the
//! bottom panel shows the predicted class's pooling weight per window as bars, so one sees where
//! the temporal softmax put its mass (spread out for mean pooling, on one window for max).

use super::axes::{self, Axes, Rect, Side, TEXT};
use super::canvas::{Canvas, Color, Marker};
use super::legend::{self, Key};
use super::palette::{self, BLACK, INK, WHITE};
use super::text;
use crate::error::{Error, Result};

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

/// Class colours: the Okabe-Ito hues first (they stay apart under the common colour-vision
/// deficiencies), then black, grey, brown and olive, all dark enough for thin lines on white.
/// With at most this many classes a class keeps its colour from video to video.
pub(crate) const CLASS_COLORS: [Color; 10] = [
    palette::BLUE,
    palette::VERMILLION,
    palette::GREEN,
    palette::ORANGE,
    palette::SKY,
    palette::PURPLE,
    BLACK,
    palette::GREY,
    [140, 86, 45],
    [150, 140, 0],
];
/// More lines than colours would be a tangle nobody can read: past this the picture keeps the
/// prediction and the best-scoring other classes.
pub(crate) const MAX_CLASSES: usize = CLASS_COLORS.len();
const LINE_W: u32 = 2;
/// The predicted class: thick enough to be found at once among ten lines.
const PREDICTED_W: u32 = 5;
/// The level every weight would have under mean pooling.
const UNIFORM: Color = INK;

/// Where the panels ended up, so tests can find data on the picture.
#[derive(Clone, Debug)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Layout {
    pub scores: Axes,
    pub weights: Axes,
    /// The classes drawn, in legend order (the prediction first), with their colours.
    pub shown: Vec<(usize, Color)>,
}

/// The classes to draw, in legend order: the prediction first, then the others by pooled score,
/// highest first (NaN last, ties in class order), at most `MAX_CLASSES` in all.
fn shown_classes(plot: &WindowScoresPlot) -> Vec<usize> {
    let key = |c: usize| {
        let v = plot.pooled[c];
        if v.is_nan() {
            f64::NEG_INFINITY
        } else {
            v
        }
    };
    let mut order: Vec<usize> = (0..plot.classes.len()).filter(|&c| c != plot.predicted).collect();
    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
    order.insert(0, plot.predicted);
    order.truncate(MAX_CLASSES);
    order
}

/// The frame at the centre of window `j`: frames are unit intervals (frame i spans i..i+1 on the
/// x axis), so a window of F frames starting at s spans s..s+F and its centre is s + F/2.
fn centre(plot: &WindowScoresPlot, j: usize) -> f64 {
    plot.starts[j] as f64 + plot.window_len as f64 / 2.0
}

/// The x extent of each window's weight bar: halfway to the neighbouring windows' centres, so
/// bars tile the axis without overlapping however much the windows themselves overlap. The outer
/// bars reach as far out as they reach in; a single window's bar covers its frames.
fn bar_extents(plot: &WindowScoresPlot) -> Vec<(f64, f64)> {
    let w = plot.starts.len();
    if w == 1 {
        let s = plot.starts[0] as f64;
        return vec![(s, s + plot.window_len as f64)];
    }
    let c: Vec<f64> = (0..w).map(|j| centre(plot, j)).collect();
    (0..w)
        .map(|j| {
            let left = if j == 0 {
                c[0] - (c[1] - c[0]) / 2.0
            } else {
                (c[j - 1] + c[j]) / 2.0
            };
            let right = if j == w - 1 {
                c[j] + (c[j] - c[j - 1]) / 2.0
            } else {
                (c[j] + c[j + 1]) / 2.0
            };
            (left, right)
        })
        .collect()
}

/// The font has printable ASCII only; spell out what `Pooling` prints so it is not a box.
fn ascii(s: &str) -> String {
    s.replace('γ', "gamma").replace('∞', "inf")
}

/// A probability as a short percentage that never claims certainty it does not have.
fn percent(p: f64) -> String {
    if !p.is_finite() {
        "p ?".into()
    } else if p < 0.005 {
        "<1%".into()
    } else if p > 0.995 {
        ">99%".into()
    } else {
        format!("{:.0}%", 100.0 * p)
    }
}

/// A line of centred grey text in the middle of a panel that has nothing to show.
fn note(c: &mut Canvas, ax: &Axes, msg: &str) {
    let nw = Canvas::text_width(msg, TEXT);
    c.text(
        ax.rect.x + (ax.rect.w - nw) / 2,
        ax.rect.y + ax.rect.h / 2 - 9,
        msg,
        TEXT,
        INK,
    );
}

/// Text on a white patch at the top left of a panel, readable over bars and lines.
fn caption(c: &mut Canvas, ax: &Axes, y: i64, msg: &str) {
    let (mw, th) = (Canvas::text_width(msg, TEXT), Canvas::text_height(TEXT));
    let x = ax.rect.x + 8;
    c.fill_rect_alpha(x - 3, y - 3, mw + 6, th + 4, WHITE, 0.85);
    c.text(x, y, msg, TEXT, INK);
}

/// One class's window scores as a line through the window centres, broken at NaN. A window with
/// no finite neighbour (W = 1, or between two NaNs) has no segment to join, so it is drawn as a
/// level stroke over the stretch its weight bar covers, with a dot at its centre: a lone window
/// stays visible and the NaNs beside it stay gaps.
fn draw_scores(c: &mut Canvas, ax: &Axes, plot: &WindowScoresPlot, row: &[f64], width: u32, color: Color) {
    let ok = |j: usize| row[j].is_finite();
    for j in 1..row.len() {
        if ok(j - 1) && ok(j) {
            let a = (ax.px(centre(plot, j - 1)), ax.py(row[j - 1]));
            c.thick_line(a, (ax.px(centre(plot, j)), ax.py(row[j])), width, color);
        }
    }
    let extents = bar_extents(plot);
    for j in (0..row.len()).filter(|&j| ok(j)) {
        if (j == 0 || !ok(j - 1)) && (j + 1 == row.len() || !ok(j + 1)) {
            let ((a, b), y) = (extents[j], ax.py(row[j]));
            c.thick_line((ax.px(a.max(ax.x.0)), y), (ax.px(b.min(ax.x.1)), y), width, color);
            let r = width as i64 + 2;
            c.marker(
                ax.px(centre(plot, j)).round() as i64,
                y.round() as i64,
                r,
                Marker::Circle,
                color,
            );
        }
    }
}

pub(crate) fn render(plot: &WindowScoresPlot, width: u32, height: u32) -> Result<(Canvas, Layout)> {
    plot.validate()?;
    let (k, w) = (plot.classes.len(), plot.starts.len());
    let pred = plot.predicted;
    let shown = shown_classes(plot);
    // Colours by class index among the classes drawn: with ≤ MAX_CLASSES classes, that is the
    // class index itself, so a class looks the same in every video's picture.
    let mut by_index = shown.clone();
    by_index.sort_unstable();
    let color_of = |c: usize| CLASS_COLORS[by_index.binary_search(&c).unwrap_or(0)];
    let probs = plot.probabilities();

    // Frames on x; a window that runs past the video's end (a video shorter than one window is
    // scored padded) widens the axis rather than being cut off.
    let frames = plot.video_len.max(plot.starts[w - 1] + plot.window_len) as f64;
    let x_range = (0.0, frames);
    let score_range = axes::data_range(shown.iter().flat_map(|&c| plot.scores[c].iter().copied()), 0.06);
    let y_scores = score_range.unwrap_or((0.0, 1.0));
    let weights = &plot.weights[pred];
    let w_max = weights
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let has_weights = w_max.is_finite();
    // From 0, so bar heights compare; headroom above the tallest bar for the caption.
    let y_weights = (0.0, if w_max > 0.0 { w_max * 1.3 } else { 1.0 });
    let x_ticks: Vec<(f64, String)> = axes::nice_ticks(x_range.0, x_range.1, 10, true);
    let score_ticks = axes::nice_ticks(y_scores.0, y_scores.1, 6, false);
    let weight_ticks = axes::nice_ticks(y_weights.0, y_weights.1, 3, false);
    let tick_w = score_ticks
        .iter()
        .chain(&weight_ticks)
        .map(|t| Canvas::text_width(&t.1, TEXT))
        .max()
        .unwrap_or(0);

    let mut c = Canvas::new(width, height, WHITE)?;
    let (cw, ch) = (width as i64, height as i64);
    let left = axes::y_axis_room(tick_w, 2) + 10;
    let right = 30;
    let plot_w = cw - left - right;

    // Legend: the prediction first, then by pooled score; each with its pooled score and
    // probability, names shortened so two entries always fit a row.
    let entries: Vec<(Key, String)> = shown
        .iter()
        .map(|&cls| {
            let name = text::fit(&ascii(&plot.classes[cls]), (plot_w / 2 - 200).max(60), TEXT);
            let mut label = format!(
                "{name} {} ({})",
                text::short_number(plot.pooled[cls]),
                percent(probs[cls])
            );
            if cls == pred {
                label.push_str(", predicted");
            }
            (Key::Line(color_of(cls)), label)
        })
        .collect();

    let name = ascii(&plot.classes[pred]);
    let heading = format!(
        "{}: predicted {name} ({}), {} pooling",
        ascii(&plot.title),
        percent(probs[pred]),
        ascii(&plot.pooling)
    );
    let mut y = text::title(&mut c, &heading, 14, cw, BLACK);
    let stride = match plot.starts.windows(2).map(|p| p[1] - p[0]).collect::<Vec<_>>() {
        d if d.is_empty() => String::new(),
        d if d.iter().all(|&s| s == d[0]) => format!(", stride {}", d[0]),
        d => format!(", strides {}-{}", d.iter().min().unwrap(), d.iter().max().unwrap()),
    };
    let mut sub = "legend: class, pooled score (probability)".to_string();
    if k > shown.len() {
        sub.push_str(&format!("; the {} best of {k} classes", shown.len()));
    }
    let sub = text::fit(&sub, cw - 24, TEXT);
    c.text((cw - Canvas::text_width(&sub, TEXT)) / 2, y + 8, &sub, TEXT, INK);
    y += 8 + Canvas::text_height(TEXT) + 12;
    legend::draw(&mut c, &entries, left, y, plot_w);
    let top = y + legend::height(&entries, plot_w) + 8;
    let avail = ch - top - axes::x_axis_room() - 10;
    let gap = 14;
    let weights_h = (avail - gap) * 30 / 100;
    let scores_h = avail - gap - weights_h;
    if plot_w < 50 || weights_h < 40 {
        return Err(Error::argument(
            "window_scores",
            format!("{width}x{height} is too small"),
        ));
    }
    let score_ax = Axes {
        rect: Rect {
            x: left,
            y: top,
            w: plot_w,
            h: scores_h,
        },
        x: x_range,
        y: y_scores,
        y_down: false,
    };
    let weight_ax = Axes {
        rect: Rect {
            x: left,
            y: top + scores_h + gap,
            w: plot_w,
            h: weights_h,
        },
        y: y_weights,
        ..score_ax
    };

    // Back to front: grids, weight bars, the uniform level, the video's end, score lines (the
    // prediction last, on top), frames and labels.
    let xs: Vec<f64> = x_ticks.iter().map(|t| t.0).collect();
    score_ax.grid(&mut c, &xs, &score_ticks.iter().map(|t| t.0).collect::<Vec<_>>());
    weight_ax.grid(&mut c, &xs, &weight_ticks.iter().map(|t| t.0).collect::<Vec<_>>());
    let pred_color = color_of(pred);
    if has_weights {
        let r = weight_ax.rect;
        for (&(a, b), &v) in bar_extents(plot).iter().zip(weights) {
            if !v.is_finite() {
                continue;
            }
            let x0 = weight_ax.px(a.max(0.0)).round() as i64;
            let mut x1 = weight_ax.px(b.min(frames)).round() as i64;
            // A pixel of white between bars while they are wide enough to spare it; thousands of
            // windows squeeze into single-pixel columns, the tallest bar of a column showing.
            if x1 - x0 >= 4 {
                x1 -= 1;
            }
            let top = weight_ax.py(v).round() as i64;
            c.fill_rect(x0, top, (x1 - x0).max(1), r.bottom() - top, pred_color);
        }
        let level = weight_ax.py(1.0 / w as f64).round() as i64;
        c.dashed_line(r.x, level, r.right() - 1, level, (6, 4), UNIFORM);
        let label = "mean pooling: 1/W";
        let lw = Canvas::text_width(label, TEXT);
        let ly = (level - Canvas::text_height(TEXT) - 4).max(r.y + 4);
        c.fill_rect_alpha(
            r.right() - lw - 11,
            ly - 2,
            lw + 6,
            Canvas::text_height(TEXT) + 2,
            WHITE,
            0.85,
        );
        c.text(r.right() - lw - 8, ly, label, TEXT, UNIFORM);
    }

    if frames > plot.video_len as f64 {
        // Windows past the last frame saw padding: mark where the real video ends.
        for ax in [&score_ax, &weight_ax] {
            let x = ax.px(plot.video_len as f64).round() as i64;
            c.dashed_line(x, ax.rect.y, x, ax.rect.bottom() - 1, (6, 4), INK);
        }
    }

    if score_range.is_some() {
        for &cls in shown.iter().rev().filter(|&&cls| cls != pred) {
            draw_scores(&mut c, &score_ax, plot, &plot.scores[cls], LINE_W, color_of(cls));
        }
        draw_scores(&mut c, &score_ax, plot, &plot.scores[pred], PREDICTED_W, pred_color);
    } else {
        note(&mut c, &score_ax, "no finite scores");
    }
    if has_weights {
        let msg = text::fit(&format!("pooling weights of {name}"), plot_w - 16, TEXT);
        caption(&mut c, &weight_ax, weight_ax.rect.y + 6, &msg);
    } else {
        note(&mut c, &weight_ax, "no finite weights");
    }

    for ax in [&score_ax, &weight_ax] {
        ax.frame(&mut c);
    }
    // The weight panel shares the score panel's x axis: numbers once, below it.
    let unlabeled: Vec<(f64, String)> = x_ticks.iter().map(|t| (t.0, String::new())).collect();
    score_ax.x_ticks(&mut c, &unlabeled);
    weight_ax.x_ticks(&mut c, &x_ticks);
    let tw = score_ax.y_ticks(&mut c, &score_ticks, Side::Left, INK);
    score_ax.y_label(&mut c, "window score\n(logit)", Side::Left, tw, INK);
    let tw = weight_ax.y_ticks(&mut c, &weight_ticks, Side::Left, INK);
    weight_ax.y_label(&mut c, "pooling\nweight", Side::Left, tw, INK);
    let x_label = if w == 1 {
        format!("frame (1 window of {} frames)", plot.window_len)
    } else {
        format!(
            "frame ({w} windows of {} frames{stride}, drawn at their centres)",
            plot.window_len
        )
    };
    weight_ax.x_label(&mut c, &text::fit(&x_label, plot_w, TEXT));
    let shown = shown.iter().map(|&cls| (cls, color_of(cls))).collect();
    Ok((
        c,
        Layout {
            scores: score_ax,
            weights: weight_ax,
            shown,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    const PRED: Color = CLASS_COLORS[1];
    const FLAT: Color = CLASS_COLORS[0];

    fn softmax(row: &[f64]) -> Vec<f64> {
        let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - top).exp()).collect();
        let total: f64 = e.iter().sum();
        e.iter().map(|v| v / total).collect()
    }

    /// L = 150, F = 16, stride 2 (W = 68 windows, starts 0..=134). Class 0 is flat at 0.5, class
    /// 1 (the prediction) sits at -1 with a peak of 3 at window 40 (start 80, centre frame 88),
    /// class 2 ramps from -0.8 to 0.
    fn plot() -> WindowScoresPlot {
        let starts: Vec<usize> = (0..=134).step_by(2).collect();
        let w = starts.len();
        let peak: Vec<f64> = (0..w)
            .map(|j| -1.0 + 4.0 * (-((j as f64 - 40.0) / 4.0).powi(2)).exp())
            .collect();
        let scores = vec![
            vec![0.5; w],
            peak,
            (0..w).map(|j| -0.8 + 0.8 * j as f64 / (w - 1) as f64).collect(),
        ];
        let weights: Vec<Vec<f64>> = scores.iter().map(|r| softmax(r)).collect();
        let pooled = scores
            .iter()
            .zip(&weights)
            .map(|(s, w)| s.iter().zip(w).map(|(a, b)| a * b).sum())
            .collect();
        WindowScoresPlot {
            title: "t".into(),
            classes: vec!["flat".into(), "peak".into(), "ramp".into()],
            starts,
            window_len: 16,
            video_len: 150,
            scores,
            weights,
            pooled,
            predicted: 1,
            pooling: "softmax γ=1".into(),
        }
    }

    /// Renders through PNG bytes and back, so the checks see what a reader of the file sees.
    fn decoded(p: &WindowScoresPlot) -> (RgbImage, Layout) {
        let (c, layout) = render(p, 1000, 820).unwrap();
        let mut bytes = Vec::new();
        c.encode_png(&mut bytes).unwrap();
        (image::load_from_memory(&bytes).unwrap().to_rgb8(), layout)
    }

    fn at(img: &RgbImage, x: f64, y: f64) -> Color {
        img.get_pixel(x.round() as u32, y.round() as u32).0
    }

    /// The (x, y) pixels of `color` inside `ax`'s rectangle, frame excluded.
    fn pixels_of(img: &RgbImage, ax: &Axes, color: Color) -> Vec<(i64, i64)> {
        let r = ax.rect;
        let mut v = Vec::new();
        for y in r.y + 1..r.bottom() - 1 {
            for x in r.x + 1..r.right() - 1 {
                if img.get_pixel(x as u32, y as u32).0 == color {
                    v.push((x, y));
                }
            }
        }
        v
    }

    /// Length of the run of `color` through row y in column x.
    fn run_through(img: &RgbImage, x: f64, y: f64, color: Color) -> usize {
        let (x, y) = (x.round() as u32, y.round() as i64);
        let is = |y: i64| y >= 0 && img.get_pixel(x, y as u32).0 == color;
        let up = (1..).take_while(|d| is(y - d)).count();
        let down = (1..).take_while(|d| is(y + d)).count();
        if is(y) {
            1 + up + down
        } else {
            0
        }
    }

    #[test]
    fn the_predictions_peak_is_drawn_at_the_centre_of_its_best_window() {
        let p = plot();
        let (img, lay) = decoded(&p);
        assert_eq!(lay.shown[0], (1, PRED));
        // Window 40 starts at frame 80; 16 frames make its centre frame 88 (not its start).
        let (x, y) = (lay.scores.px(80.0 + 16.0 / 2.0), lay.scores.py(3.0));
        let ink = pixels_of(&img, &lay.scores, PRED);
        let top = ink.iter().map(|p| p.1).min().unwrap();
        assert!(
            (top as f64 - y).abs() <= 3.0,
            "highest class-1 pixel at row {top}, peak at {y}"
        );
        let xs: Vec<i64> = ink.iter().filter(|p| p.1 == top).map(|p| p.0).collect();
        assert!(
            xs.iter().all(|&px| (px as f64 - x).abs() <= 4.0),
            "peak drawn at columns {xs:?}, window centre at {x}"
        );
    }

    #[test]
    fn every_window_score_of_the_prediction_lies_on_its_line() {
        let p = plot();
        let (img, lay) = decoded(&p);
        for (j, (&s, &v)) in p.starts.iter().zip(&p.scores[1]).enumerate() {
            let (x, y) = (lay.scores.px(s as f64 + 8.0), lay.scores.py(v));
            assert_eq!(at(&img, x, y), PRED, "window {j} (start {s}, score {v})");
        }
        // The flat class 0 is there too, where its 0.5 maps, away from the peak.
        assert_eq!(at(&img, lay.scores.px(40.0), lay.scores.py(0.5)), FLAT);
    }

    #[test]
    fn the_prediction_is_drawn_thicker_than_the_others() {
        let (img, lay) = decoded(&plot());
        // Frame 30: the prediction is flat at -1 there, class 0 flat at 0.5.
        let x = lay.scores.px(30.0);
        assert_eq!(run_through(&img, x, lay.scores.py(-1.0), PRED), PREDICTED_W as usize);
        assert_eq!(run_through(&img, x, lay.scores.py(0.5), FLAT), LINE_W as usize);
    }

    #[test]
    fn weight_bars_rise_to_each_windows_weight() {
        let p = plot();
        let (img, lay) = decoded(&p);
        let ax = &lay.weights;
        let mut tall = 0;
        for (j, (&s, &v)) in p.starts.iter().zip(&p.weights[1]).enumerate() {
            let (x, top) = (ax.px(s as f64 + 8.0), ax.py(v).round());
            // Nothing of the bar's colour above its top ...
            assert_ne!(at(&img, x, top - 3.0), PRED, "window {j}: bar above its weight {v}");
            // ... and the bar below it, where the bar is taller than the frame line.
            if top + 3.0 < (ax.rect.bottom() - 1) as f64 {
                assert_eq!(at(&img, x, top + 2.0), PRED, "window {j}: no bar up to {v}");
                tall += 1;
            }
        }
        assert!(tall >= 10, "only {tall} bars were tall enough to check");
        // The mean-pooling level 1/W is dashed across the panel.
        let y = ax.py(1.0 / p.starts.len() as f64).round() as u32;
        let dashes = (ax.rect.x as u32..ax.rect.right() as u32)
            .filter(|&x| img.get_pixel(x, y).0 == UNIFORM)
            .count();
        assert!(dashes > 100, "{dashes} pixels of the 1/W line");
    }

    #[test]
    fn nan_scores_leave_gaps_and_a_lone_window_still_shows() {
        let mut p = plot();
        // Window 10 alone is NaN; windows 30 and 32 are, leaving 31 with no finite neighbour.
        for j in [10, 30, 32] {
            p.scores[0][j] = f64::NAN;
        }
        let (img, lay) = decoded(&p);
        let ax = &lay.scores;
        let column = |frame: f64| {
            let x = ax.px(frame).round() as u32;
            (ax.rect.y as u32 + 1..ax.rect.bottom() as u32 - 1).any(|y| img.get_pixel(x, y).0 == FLAT)
        };
        assert!(!column(20.0 + 8.0), "class 0 drawn through its NaN window 10");
        assert!(column(24.0 + 8.0));
        // Window 31 (centre 70) is a dot with a short level stroke, and the NaN windows 30 and 32
        // beside it (centres 68 and 72) stay gaps; window 29 (centre 66) is drawn again.
        assert_eq!(
            at(&img, ax.px(70.0), ax.py(0.5) - 3.0),
            FLAT,
            "no dot at the lone window"
        );
        assert!(!column(68.0), "class 0 drawn through its NaN window 30");
        assert!(!column(72.0), "class 0 drawn through its NaN window 32");
        assert!(column(66.0));

        // Every score NaN: the panel says so, the weights still draw.
        let mut p = plot();
        p.scores.iter_mut().flatten().for_each(|v| *v = f64::NAN);
        let (img, lay) = decoded(&p);
        assert!(pixels_of(&img, &lay.scores, PRED).is_empty());
        assert!(!pixels_of(&img, &lay.weights, PRED).is_empty());
    }

    #[test]
    fn one_window_spans_its_frames_even_past_the_video() {
        let p = WindowScoresPlot {
            title: "short".into(),
            classes: vec!["a".into(), "b".into()],
            starts: vec![0],
            window_len: 16,
            video_len: 10,
            scores: vec![vec![0.2], vec![1.0]],
            weights: vec![vec![1.0], vec![1.0]],
            pooled: vec![0.2, 1.0],
            predicted: 1,
            pooling: "mean".into(),
        };
        let (img, lay) = decoded(&p);
        let ax = &lay.scores;
        assert_eq!(ax.x, (0.0, 16.0), "the padded window widens the axis to its 16 frames");
        let colour = CLASS_COLORS[1];
        for frame in [1.0, 8.0, 15.0] {
            assert_eq!(at(&img, ax.px(frame), ax.py(1.0)), colour, "frame {frame}");
            assert_eq!(at(&img, lay.weights.px(frame), lay.weights.py(0.5)), colour);
        }
        // The video's real end (frame 10) is marked.
        let x = ax.px(10.0).round() as u32;
        assert!((ax.rect.y as u32 + 1..ax.rect.bottom() as u32 - 1).any(|y| img.get_pixel(x, y).0 == INK));
    }

    #[test]
    fn many_classes_keep_the_prediction_and_the_best_by_pooled_score() {
        let mut p = plot();
        let k = 12;
        let w = p.starts.len();
        p.classes = (0..k).map(|c| format!("class {c}")).collect();
        p.scores = (0..k).map(|c| vec![c as f64 / 10.0; w]).collect();
        p.weights = vec![vec![1.0 / w as f64; w]; k];
        p.pooled = (0..k).map(|c| c as f64).collect();
        p.pooled[11] = f64::NAN;
        p.predicted = 3;
        assert_eq!(shown_classes(&p), [3, 10, 9, 8, 7, 6, 5, 4, 2, 1]);
        let (_, lay) = render(&p, 1000, 820).unwrap();
        let mut colours: Vec<Color> = lay.shown.iter().map(|s| s.1).collect();
        colours.sort_unstable();
        colours.dedup();
        assert_eq!(colours.len(), MAX_CLASSES, "classes drawn share a colour");
        // Ten classes or fewer: a class keeps its own colour whatever is predicted.
        let p = plot();
        let (_, lay) = render(&p, 1000, 820).unwrap();
        assert_eq!(
            lay.shown,
            [(1, CLASS_COLORS[1]), (0, CLASS_COLORS[0]), (2, CLASS_COLORS[2])]
        );
    }

    #[test]
    fn bars_tile_the_axis_between_window_centres() {
        let mut p = plot();
        p.starts = vec![0, 4, 10];
        // Centres 8, 12, 18: edges halfway between them, the outer ones mirrored.
        assert_eq!(bar_extents(&p), [(6.0, 10.0), (10.0, 15.0), (15.0, 21.0)]);
        p.starts = vec![5];
        assert_eq!(bar_extents(&p), [(5.0, 21.0)]);
    }

    #[test]
    fn labels_stay_in_the_font() {
        assert_eq!(ascii("softmax γ=1"), "softmax gamma=1");
        assert_eq!(percent(0.823), "82%");
        assert_eq!(percent(0.001), "<1%");
        assert_eq!(percent(0.9999), ">99%");
        assert_eq!(percent(f64::NAN), "p ?");
    }

    #[test]
    fn too_small_is_an_error() {
        assert!(render(&plot(), 200, 200).is_err());
    }
}

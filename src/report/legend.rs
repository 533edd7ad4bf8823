//! Legends: a row of (key, label) entries, laid out left to right and wrapped onto further rows
//! when they do not fit the width given.

use super::axes::TEXT;
use super::canvas::{Canvas, Color, Marker};
use super::palette::INK;

/// What a legend entry shows in front of its label.
#[derive(Clone, Copy, Debug)]
pub enum Key {
    /// A short line segment, as for a curve.
    Line(Color),
    /// A dashed line, as for a reference mark.
    Dashed(Color),
    /// A marker, as for scattered points.
    Marker(Marker, Color),
    /// A filled square, as for a shaded band.
    Swatch(Color),
}

const KEY_W: i64 = 28;
const KEY_GAP: i64 = 8;
const ENTRY_GAP: i64 = 24;

fn entry_width(label: &str) -> i64 {
    KEY_W + KEY_GAP + Canvas::text_width(label, TEXT)
}

fn row_height() -> i64 {
    Canvas::text_height(TEXT) + 8
}

/// Rows needed for `entries` within `width` pixels.
fn layout(entries: &[(Key, String)], width: i64) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut used = 0;
    for (i, (_, label)) in entries.iter().enumerate() {
        let w = entry_width(label);
        match rows.last_mut() {
            Some(row) if used + ENTRY_GAP + w <= width => {
                row.push(i);
                used += ENTRY_GAP + w;
            }
            _ => {
                rows.push(vec![i]);
                used = w;
            }
        }
    }
    rows
}

/// Height the legend will take when drawn within `width` pixels.
pub fn height(entries: &[(Key, String)], width: i64) -> i64 {
    layout(entries, width).len() as i64 * row_height()
}

/// Draws the legend centred in the strip x..x+width starting at row y.
pub fn draw(c: &mut Canvas, entries: &[(Key, String)], x: i64, y: i64, width: i64) {
    let th = Canvas::text_height(TEXT);
    for (r, row) in layout(entries, width).iter().enumerate() {
        let total: i64 =
            row.iter().map(|&i| entry_width(&entries[i].1)).sum::<i64>() + ENTRY_GAP * (row.len() as i64 - 1);
        let mut ex = x + (width - total).max(0) / 2;
        let ty = y + r as i64 * row_height();
        // Keys are centred on the x-height of the text, where the eye expects them.
        let mid = ty + th * 4 / 9;
        for &i in row {
            let (key, label) = &entries[i];
            match *key {
                Key::Line(col) => c.fill_rect(ex, mid - 1, KEY_W, 3, col),
                Key::Dashed(col) => {
                    for dy in 0..2 {
                        c.dashed_line(ex, mid + dy, ex + KEY_W - 1, mid + dy, (5, 3), col);
                    }
                }
                Key::Marker(shape, col) => c.marker(ex + KEY_W / 2, mid, 5, shape, col),
                Key::Swatch(col) => {
                    c.fill_rect(ex + 2, mid - 8, KEY_W - 4, 16, col);
                    c.stroke_rect(ex + 2, mid - 8, KEY_W - 4, 16, INK);
                }
            }
            c.text(ex + KEY_W + KEY_GAP, ty, label, TEXT, INK);
            ex += entry_width(label) + ENTRY_GAP;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::palette::{BLUE, WHITE};

    #[test]
    fn wraps_when_too_narrow() {
        let entries: Vec<(Key, String)> = (0..4).map(|i| (Key::Line(BLUE), format!("series {i}"))).collect();
        let one = entry_width("series 0");
        assert_eq!(height(&entries, 10_000), row_height());
        assert_eq!(height(&entries, one), 4 * row_height());
        assert_eq!(height(&entries, 2 * one + ENTRY_GAP), 2 * row_height());
    }

    #[test]
    fn draws_keys_in_their_colours() {
        let mut c = Canvas::new(400, 40, WHITE).unwrap();
        draw(&mut c, &[(Key::Swatch(BLUE), "band".into())], 0, 5, 400);
        let found = (0..400).any(|x| (0..40).any(|y| c.pixel(x, y) == Some(BLUE)));
        assert!(found);
    }
}

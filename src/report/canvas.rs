//! An RGB raster with the few primitives plots need: pixels, filled and translucent rectangles,
//! lines (solid, thick, dashed), markers, text and PNG output. Coordinates are integer pixels with
//! (0, 0) at the top left; everything is clipped to the canvas, so callers may draw partly (or
//! wholly) outside it without checks.

use std::io::Write;
use std::path::Path;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

use super::font::{self, ADVANCE, GLYPH_H, GLYPH_W};
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;

/// An sRGB colour.
pub type Color = [u8; 3];

/// Largest side we agree to allocate: far above any plot, small enough that a bogus size is an
/// error instead of an out-of-memory abort.
const MAX_SIDE: u32 = 16_384;

/// Marker shapes; distinct shapes keep series apart even without colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Diamond,
    /// A ring (circle outline), drawn over other ink to highlight a point.
    Ring,
}

#[derive(Clone, Debug)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    pub fn new(width: u32, height: u32, background: Color) -> Result<Self> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(Error::argument(
                "canvas",
                format!("size {width}x{height} is outside 1..={MAX_SIDE} per side"),
            ));
        }
        let pixels = background.repeat(width as usize * height as usize);
        Ok(Canvas { width, height, pixels })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return None;
        }
        Some((y as usize * self.width as usize + x as usize) * 3)
    }

    /// The colour at (x, y), or None outside the canvas.
    pub fn pixel(&self, x: i64, y: i64) -> Option<Color> {
        self.index(x, y)
            .map(|i| [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    pub fn set(&mut self, x: i64, y: i64, c: Color) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Mixes `c` over the pixel with opacity `alpha` (0 = unchanged, 1 = replaced).
    pub fn blend(&mut self, x: i64, y: i64, c: Color, alpha: f64) {
        let a = alpha.clamp(0.0, 1.0);
        if let Some(i) = self.index(x, y) {
            for (px, &new) in self.pixels[i..i + 3].iter_mut().zip(&c) {
                let old = *px as f64;
                *px = (old + a * (new as f64 - old)).round() as u8;
            }
        }
    }

    /// Fills the pixels x0..x0+w, y0..y0+h (half-open, like a slice range).
    pub fn fill_rect(&mut self, x0: i64, y0: i64, w: i64, h: i64, c: Color) {
        self.fill_rect_alpha(x0, y0, w, h, c, 1.0);
    }

    /// Like `fill_rect` but translucent: used for background bands that must not hide the grid.
    pub fn fill_rect_alpha(&mut self, x0: i64, y0: i64, w: i64, h: i64, c: Color, alpha: f64) {
        let xs = x0.max(0)..(x0 + w).min(self.width as i64);
        let ys = y0.max(0)..(y0 + h).min(self.height as i64);
        for y in ys {
            for x in xs.clone() {
                if alpha >= 1.0 {
                    self.set(x, y, c);
                } else {
                    self.blend(x, y, c, alpha);
                }
            }
        }
    }

    /// A one-pixel outline of the rectangle x0..x0+w, y0..y0+h.
    pub fn stroke_rect(&mut self, x0: i64, y0: i64, w: i64, h: i64, c: Color) {
        if w <= 0 || h <= 0 {
            return;
        }
        self.fill_rect(x0, y0, w, 1, c);
        self.fill_rect(x0, y0 + h - 1, w, 1, c);
        self.fill_rect(x0, y0, 1, h, c);
        self.fill_rect(x0 + w - 1, y0, 1, h, c);
    }

    /// Calls `plot` on every pixel of the Bresenham line from (x0, y0) to (x1, y1), ends included,
    /// with the running pixel count (for dash patterns).
    fn walk_line(x0: i64, y0: i64, x1: i64, y1: i64, mut plot: impl FnMut(i64, i64, usize)) {
        let dx = (x1 - x0).abs();
        let dy = -(y1 - y0).abs();
        let sx = if x0 < x1 { 1 } else { -1 };
        let sy = if y0 < y1 { 1 } else { -1 };
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let mut n = 0;
        loop {
            plot(x, y, n);
            n += 1;
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// A one-pixel line, both ends included.
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Color) {
        Self::walk_line(x0, y0, x1, y1, |x, y, _| self.set(x, y, c));
    }

    /// A line `width` pixels thick: a square brush dragged along the Bresenham path. Far-off
    /// endpoints (a huge outlier) are first pulled in so the walk stays short.
    pub fn thick_line(&mut self, p0: (f64, f64), p1: (f64, f64), width: u32, c: Color) {
        let Some((a, b)) = self.clip_segment(p0, p1) else {
            return;
        };
        let w = width.max(1) as i64;
        let off = (w - 1) / 2;
        Self::walk_line(a.0, a.1, b.0, b.1, |x, y, _| self.fill_rect(x - off, y - off, w, w, c));
    }

    /// A one-pixel dashed line: `dash.0` pixels drawn, `dash.1` skipped, repeating.
    pub fn dashed_line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, dash: (usize, usize), c: Color) {
        let (on, off) = dash;
        let period = (on + off).max(1);
        Self::walk_line(x0, y0, x1, y1, |x, y, n| {
            if n % period < on {
                self.set(x, y, c)
            }
        });
    }

    /// Clips a segment to a margin around the canvas (Liang-Barsky) and rounds it to pixels; None
    /// when it misses the canvas or has a non-finite end.
    fn clip_segment(&self, p0: (f64, f64), p1: (f64, f64)) -> Option<((i64, i64), (i64, i64))> {
        if ![p0.0, p0.1, p1.0, p1.1].iter().all(|v| v.is_finite()) {
            return None;
        }
        let margin = 16.0;
        let (lo_x, hi_x) = (-margin, self.width as f64 + margin);
        let (lo_y, hi_y) = (-margin, self.height as f64 + margin);
        let (dx, dy) = (p1.0 - p0.0, p1.1 - p0.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, p0.0 - lo_x),
            (dx, hi_x - p0.0),
            (-dy, p0.1 - lo_y),
            (dy, hi_y - p0.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if t0 > t1 {
            return None;
        }
        let at = |t: f64| ((p0.0 + t * dx).round() as i64, (p0.1 + t * dy).round() as i64);
        Some((at(t0), at(t1)))
    }

    /// A marker of radius `r` pixels centred on (cx, cy).
    pub fn marker(&mut self, cx: i64, cy: i64, r: i64, shape: Marker, c: Color) {
        let r = r.max(1);
        for dy in -r..=r {
            for dx in -r..=r {
                // Compare squared distances with r + 0.5 so small circles come out round, not square.
                let d2 = (dx * dx + dy * dy) as f64;
                let outer = (r as f64 + 0.5).powi(2);
                let inside = match shape {
                    Marker::Circle => d2 <= outer,
                    Marker::Square => true,
                    Marker::Diamond => dx.abs() + dy.abs() <= r,
                    Marker::Ring => d2 <= outer && d2 >= (r as f64 - 1.5).max(0.0).powi(2),
                };
                if inside {
                    self.set(cx + dx, cy + dy, c);
                }
            }
        }
    }

    /// Width in pixels of `text` drawn at integer `scale` (no trailing gap).
    pub fn text_width(text: &str, scale: u32) -> i64 {
        let n = text.chars().count();
        if n == 0 {
            return 0;
        }
        ((n * ADVANCE - 1) * scale as usize) as i64
    }

    /// Height in pixels of one text line at `scale`, descenders included.
    pub fn text_height(scale: u32) -> i64 {
        (GLYPH_H * scale as usize) as i64
    }

    /// Draws `text` with its top-left corner at (x, y); each font pixel becomes a scale×scale block.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, c: Color) {
        let s = scale.max(1) as i64;
        for (i, ch) in text.chars().enumerate() {
            let gx = x + (i * ADVANCE) as i64 * s;
            for row in 0..GLYPH_H {
                for col in 0..GLYPH_W {
                    if font::ink(ch, col, row) {
                        self.fill_rect(gx + col as i64 * s, y + row as i64 * s, s, s, c);
                    }
                }
            }
        }
    }

    /// Draws `text` turned 90° counter-clockwise (reading bottom to top, as y-axis labels do), its
    /// bounding box's top-left corner at (x, y). The box is text_height wide and text_width tall.
    pub fn text_vertical(&mut self, x: i64, y: i64, text: &str, scale: u32, c: Color) {
        let s = scale.max(1) as i64;
        let len = Self::text_width(text, scale);
        for (i, ch) in text.chars().enumerate() {
            // Along the text runs upwards from the bottom of the box; glyph rows run rightwards.
            let along = (i * ADVANCE) as i64 * s;
            for row in 0..GLYPH_H {
                for col in 0..GLYPH_W {
                    if font::ink(ch, col, row) {
                        let px = x + row as i64 * s;
                        let py = y + len - along - (col as i64 + 1) * s;
                        self.fill_rect(px, py, s, s, c);
                    }
                }
            }
        }
    }

    /// Copies `other` onto this canvas with its top-left corner at (x, y).
    pub fn blit(&mut self, other: &Canvas, x: i64, y: i64) {
        for oy in 0..other.height as i64 {
            for ox in 0..other.width as i64 {
                if let Some(c) = other.pixel(ox, oy) {
                    self.set(x + ox, y + oy, c);
                }
            }
        }
    }

    /// The canvas as PNG bytes. Best compression: plots are flat colour and shrink a lot.
    pub fn encode_png(&self, out: impl Write) -> std::io::Result<()> {
        let encoder = PngEncoder::new_with_quality(out, CompressionType::Best, FilterType::Adaptive);
        encoder
            .write_image(&self.pixels, self.width, self.height, ExtendedColorType::Rgb8)
            .map_err(std::io::Error::other)
    }

    /// Writes the canvas to `path` as a PNG, atomically (never a half-written file).
    pub fn save_png(&self, path: &Path) -> Result<()> {
        write_atomically(path, |file| {
            let mut buf = std::io::BufWriter::new(file);
            self.encode_png(&mut buf)?;
            buf.flush()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Color = [255, 255, 255];
    const K: Color = [0, 0, 0];

    fn inked(c: &Canvas) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        for y in 0..c.height() as i64 {
            for x in 0..c.width() as i64 {
                if c.pixel(x, y) != Some(W) {
                    v.push((x, y));
                }
            }
        }
        v
    }

    #[test]
    fn zero_or_huge_sizes_are_errors() {
        assert!(Canvas::new(0, 10, W).is_err());
        assert!(Canvas::new(10, 0, W).is_err());
        assert!(Canvas::new(MAX_SIDE + 1, 10, W).is_err());
    }

    #[test]
    fn horizontal_vertical_and_diagonal_lines_set_exactly_their_pixels() {
        let mut c = Canvas::new(10, 10, W).unwrap();
        c.line(1, 2, 5, 2, K);
        assert_eq!(inked(&c), vec![(1, 2), (2, 2), (3, 2), (4, 2), (5, 2)]);

        let mut c = Canvas::new(10, 10, W).unwrap();
        c.line(3, 7, 3, 4, K); // drawn upwards: same pixels as downwards
        assert_eq!(inked(&c), vec![(3, 4), (3, 5), (3, 6), (3, 7)]);

        let mut c = Canvas::new(10, 10, W).unwrap();
        c.line(0, 0, 4, 4, K);
        assert_eq!(inked(&c), (0..5).map(|i| (i, i)).collect::<Vec<_>>());
    }

    #[test]
    fn shallow_line_has_one_pixel_per_column() {
        let mut c = Canvas::new(20, 10, W).unwrap();
        c.line(0, 0, 8, 2, K);
        let px = inked(&c);
        assert_eq!(px.len(), 9);
        let mut cols: Vec<i64> = px.iter().map(|p| p.0).collect();
        cols.sort();
        assert_eq!(cols, (0..9).collect::<Vec<_>>());
        // Ends are exact and y never moves by more than one per step.
        assert!(px.contains(&(0, 0)) && px.contains(&(8, 2)));
        assert!(px.iter().all(|&(x, y)| (y - x / 4).abs() <= 1));
    }

    #[test]
    fn filled_rect_covers_exactly_its_area_and_clips() {
        let mut c = Canvas::new(10, 8, W).unwrap();
        c.fill_rect(2, 3, 4, 2, K);
        let expect: Vec<(i64, i64)> = (3..5).flat_map(|y| (2..6).map(move |x| (x, y))).collect();
        assert_eq!(inked(&c), expect);

        let mut c = Canvas::new(4, 4, W).unwrap();
        c.fill_rect(-5, -5, 7, 100, K); // partly outside: no panic, clipped
        assert_eq!(inked(&c).len(), 2 * 4);
        c.fill_rect(100, 100, 5, 5, K);
        assert_eq!(inked(&c).len(), 8);
    }

    #[test]
    fn translucent_rect_mixes_colours() {
        let mut c = Canvas::new(2, 1, W).unwrap();
        c.fill_rect_alpha(0, 0, 1, 1, K, 0.5);
        assert_eq!(c.pixel(0, 0), Some([128, 128, 128]));
        assert_eq!(c.pixel(1, 0), Some(W));
    }

    #[test]
    fn dashed_line_skips_pixels() {
        let mut c = Canvas::new(12, 1, W).unwrap();
        c.dashed_line(0, 0, 11, 0, (2, 2), K);
        let xs: Vec<i64> = inked(&c).iter().map(|p| p.0).collect();
        assert_eq!(xs, vec![0, 1, 4, 5, 8, 9]);
    }

    #[test]
    fn thick_line_survives_far_away_and_nan_ends() {
        let mut c = Canvas::new(20, 20, W).unwrap();
        c.thick_line((0.0, 10.0), (1e12, 10.0), 3, K);
        assert_eq!(c.pixel(19, 10), Some(K));
        assert_eq!(c.pixel(10, 9), Some(K));
        assert_eq!(c.pixel(10, 12), Some(W));
        let before = inked(&c).len();
        c.thick_line((f64::NAN, 0.0), (5.0, 5.0), 2, K);
        c.thick_line((-100.0, -100.0), (-50.0, -60.0), 2, K);
        assert_eq!(inked(&c).len(), before);
    }

    #[test]
    fn markers_are_centred_and_symmetric() {
        for shape in [Marker::Circle, Marker::Square, Marker::Diamond, Marker::Ring] {
            let mut c = Canvas::new(21, 21, W).unwrap();
            c.marker(10, 10, 4, shape, K);
            let px = inked(&c);
            assert!(!px.is_empty());
            for &(x, y) in &px {
                assert!((x - 10).abs() <= 4 && (y - 10).abs() <= 4, "{shape:?} spills");
                assert!(
                    px.contains(&(20 - x, y)) && px.contains(&(x, 20 - y)),
                    "{shape:?} asymmetric"
                );
            }
            assert_eq!(c.pixel(10, 10) == Some(K), shape != Marker::Ring, "{shape:?} centre");
        }
    }

    #[test]
    fn text_inks_only_inside_its_box() {
        let mut c = Canvas::new(100, 40, W).unwrap();
        let (x, y, s) = (7, 5, 2);
        c.text(x, y, "Ag:1", s, K);
        let (w, h) = (Canvas::text_width("Ag:1", s), Canvas::text_height(s));
        assert_eq!((w, h), ((4 * 6 - 1) * 2, 18));
        let px = inked(&c);
        assert!(px.len() > 40);
        assert!(px
            .iter()
            .all(|&(px, py)| px >= x && px < x + w && py >= y && py < y + h));
        // Each of the four glyph cells holds ink.
        for i in 0..4 {
            let x0 = x + i * 12;
            assert!(px.iter().any(|&(px, _)| px >= x0 && px < x0 + 10), "glyph {i} blank");
        }
    }

    #[test]
    fn vertical_text_is_the_rotated_horizontal_text() {
        let s = 1;
        let (w, h) = (Canvas::text_width("Fy", s), Canvas::text_height(s));
        let mut horiz = Canvas::new(w as u32, h as u32, W).unwrap();
        horiz.text(0, 0, "Fy", s, K);
        let mut vert = Canvas::new(h as u32, w as u32, W).unwrap();
        vert.text_vertical(0, 0, "Fy", s, K);
        // Turning counter-clockwise maps (x, y) to (y, w - 1 - x).
        for y in 0..h {
            for x in 0..w {
                assert_eq!(horiz.pixel(x, y), vert.pixel(y, w - 1 - x), "at ({x}, {y})");
            }
        }
    }

    #[test]
    fn png_round_trips() {
        let mut c = Canvas::new(7, 5, W).unwrap();
        c.set(3, 2, [200, 10, 20]);
        let mut bytes = Vec::new();
        c.encode_png(&mut bytes).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (7, 5));
        assert_eq!(img.get_pixel(3, 2).0, [200, 10, 20]);
        assert_eq!(img.get_pixel(0, 0).0, W);
    }
}

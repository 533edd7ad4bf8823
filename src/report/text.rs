//! Text layout shared by the plots: titles that shrink and then shorten to fit, and number
//! formatting that stays short.

use super::canvas::{Canvas, Color};

/// `text` cut to at most `max_w` pixels at `scale`, ending in "..." when something was cut.
pub fn fit(text: &str, max_w: i64, scale: u32) -> String {
    if Canvas::text_width(text, scale) <= max_w {
        return text.to_string();
    }
    let mut out: String = text.chars().collect();
    while !out.is_empty() && Canvas::text_width(&format!("{out}..."), scale) > max_w {
        out.pop();
    }
    format!("{out}...")
}

/// Draws `text` centred in 0..width at row y, at scale 3 when it fits and 2 otherwise (then
/// shortened if it still does not). Returns the row just below it.
pub fn title(c: &mut Canvas, text: &str, y: i64, width: i64, color: Color) -> i64 {
    let room = width - 24;
    let scale = if Canvas::text_width(text, 3) <= room { 3 } else { 2 };
    let shown = fit(text, room, scale);
    let w = Canvas::text_width(&shown, scale);
    c.text((width - w) / 2, y, &shown, scale, color);
    y + Canvas::text_height(scale)
}

/// A number in at most about 6 characters: plain for ordinary magnitudes, scientific otherwise.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_shortens_only_when_needed() {
        assert_eq!(fit("abc", 1000, 2), "abc");
        let cut = fit("a rather long title", Canvas::text_width("a rather...", 2), 2);
        assert_eq!(cut, "a rather...");
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short_number(0.51234), "0.512");
        assert_eq!(short_number(12.345), "12.3");
        assert_eq!(short_number(1234.4), "1234");
        assert_eq!(short_number(0.0), "0.000");
        assert_eq!(short_number(2.5e-5), "2.5e-5");
    }
}

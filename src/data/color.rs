//! Colour adjustments on interleaved RGB floats in [0, 1], following torchvision's definitions:
//! brightness scales, contrast blends with the frame's mean grey, saturation blends with each
//! pixel's grey, hue rotates the HSV hue. Each result is clamped to [0, 1], as images are.

/// One colour adjustment (`apply_jitter`), as the augmentation draws them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    Brightness,
    Contrast,
    Saturation,
    Hue,
}

/// ITU-R 601 luma, the grey torchvision and PIL use.
fn grey(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// Applies one adjustment with factor `f` (hue: shift in turns) to `rgb` (pixels x 3) in place.
pub fn apply_jitter(kind: Jitter, f: f32, rgb: &mut [f32]) {
    match kind {
        Jitter::Brightness => rgb.iter_mut().for_each(|v| *v = (*v * f).clamp(0.0, 1.0)),
        Jitter::Contrast => {
            let n = (rgb.len() / 3).max(1) as f32;
            let mean = rgb.chunks_exact(3).map(|p| grey(p[0], p[1], p[2])).sum::<f32>() / n;
            rgb.iter_mut()
                .for_each(|v| *v = (f * *v + (1.0 - f) * mean).clamp(0.0, 1.0));
        }
        Jitter::Saturation => {
            for p in rgb.chunks_exact_mut(3) {
                let g = grey(p[0], p[1], p[2]);
                p.iter_mut().for_each(|v| *v = (f * *v + (1.0 - f) * g).clamp(0.0, 1.0));
            }
        }
        Jitter::Hue => {
            if f == 0.0 {
                return;
            }
            for p in rgb.chunks_exact_mut(3) {
                hue_shift(p, f);
            }
        }
    }
}

/// Rotates one pixel's HSV hue by `f` turns without leaving RGB: value (max) and chroma
/// (max - min) are kept, so only the hue angle is recomputed. Equal to RGB -> HSV -> RGB (see
/// the test) at a quarter of the cost, which matters: it ran on every pixel of every frame.
fn hue_shift(p: &mut [f32], f: f32) {
    let (r, g, b) = (p[0], p[1], p[2]);
    let max = r.max(g).max(b);
    let chroma = max - r.min(g).min(b);
    // Hue in sextants [0, 6), shifted. Branch-free (all candidates computed, one selected) so the
    // loop over pixels can be vectorised. Greys (chroma 0) get inv = 0 and come out unchanged,
    // as every channel is then `max`.
    let inv = if chroma > 0.0 { 1.0 / chroma } else { 0.0 };
    let hr = (g - b) * inv;
    let hg = (b - r) * inv + 2.0;
    let hb = (r - g) * inv + 4.0;
    let mut h = if max == r {
        hr
    } else if max == g {
        hg
    } else {
        hb
    };
    h += 6.0 * f;
    h = if h < 0.0 { h + 6.0 } else { h };
    h = if h < 0.0 { h + 6.0 } else { h };
    h = if h >= 6.0 { h - 6.0 } else { h };
    h = if h >= 6.0 { h - 6.0 } else { h };
    // HSV -> RGB: channel n is max - chroma * clamp(min(k, 4 - k), 0, 1), k = (n + h) mod 6.
    let channel = |n: f32| {
        let k = n + h;
        let k = if k >= 6.0 { k - 6.0 } else { k };
        max - chroma * k.min(4.0 - k).clamp(0.0, 1.0)
    };
    p[0] = channel(5.0);
    p[1] = channel(3.0);
    p[2] = channel(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook HSV conversions, kept here as the reference the fast hue shift is checked
    /// against. Hue in turns [0, 1), saturation and value in [0, 1].
    fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
        let max = r.max(g).max(b);
        let min = r.min(g).min(b);
        let d = max - min;
        if d <= 0.0 {
            return (0.0, 0.0, max);
        }
        let h = if max == r {
            ((g - b) / d).rem_euclid(6.0)
        } else if max == g {
            (b - r) / d + 2.0
        } else {
            (r - g) / d + 4.0
        };
        (h / 6.0, d / max, max)
    }

    fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
        let h6 = (h * 6.0).rem_euclid(6.0);
        let sector = h6.floor();
        let f = h6 - sector;
        let p = v * (1.0 - s);
        let q = v * (1.0 - s * f);
        let t = v * (1.0 - s * (1.0 - f));
        match sector as u32 {
            0 => (v, t, p),
            1 => (q, v, p),
            2 => (p, v, t),
            3 => (p, q, v),
            4 => (t, p, v),
            _ => (v, p, q),
        }
    }

    #[test]
    fn hue_shift_of_a_third_turn_cycles_primaries() {
        // Pure red shifted by 1/3 turn is pure green, by 2/3 pure blue.
        let mut px = vec![1.0, 0.0, 0.0];
        apply_jitter(Jitter::Hue, 1.0 / 3.0, &mut px);
        assert!(
            (px[0] - 0.0).abs() < 1e-5 && (px[1] - 1.0).abs() < 1e-5 && px[2].abs() < 1e-5,
            "{px:?}"
        );
        apply_jitter(Jitter::Hue, 1.0 / 3.0, &mut px);
        assert!(
            px[0].abs() < 1e-5 && px[1].abs() < 1e-5 && (px[2] - 1.0).abs() < 1e-5,
            "{px:?}"
        );
    }

    #[test]
    fn contrast_and_saturation_by_hand() {
        // Two pixels, grey 0.2 and 0.6: mean grey 0.4; contrast 0.5 -> 0.3 and 0.5.
        let mut px = vec![0.2, 0.2, 0.2, 0.6, 0.6, 0.6];
        apply_jitter(Jitter::Contrast, 0.5, &mut px);
        for (a, b) in px.iter().zip([0.3, 0.3, 0.3, 0.5, 0.5, 0.5]) {
            assert!((a - b).abs() < 1e-6);
        }
        // Saturation 0 turns red into its grey 0.299.
        let mut red = vec![1.0, 0.0, 0.0];
        apply_jitter(Jitter::Saturation, 0.0, &mut red);
        assert!(red.iter().all(|v| (v - 0.299).abs() < 1e-6));
        // Brightness clamps.
        let mut b = vec![0.8, 0.1, 0.5];
        apply_jitter(Jitter::Brightness, 1.5, &mut b);
        assert_eq!(b, vec![1.0, 0.15, 0.75]);
    }

    #[test]
    fn fast_hue_shift_equals_the_hsv_round_trip() {
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 8) as f32 / (1u32 << 24) as f32
        };
        for _ in 0..2000 {
            let (r, g, b, f) = (next(), next(), next(), next() - 0.5);
            let mut px = [r, g, b];
            hue_shift(&mut px, f);
            let (h, s, v) = rgb_to_hsv(r, g, b);
            let (r2, g2, b2) = hsv_to_rgb((h + f).rem_euclid(1.0), s, v);
            assert!((px[0] - r2).abs() < 1e-5 && (px[1] - g2).abs() < 1e-5 && (px[2] - b2).abs() < 1e-5);
        }
    }

    #[test]
    fn hsv_round_trip() {
        for &(r, g, b) in &[(0.1, 0.5, 0.9), (0.9, 0.9, 0.2), (0.3, 0.3, 0.3), (0.7, 0.1, 0.4)] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            let (r2, g2, b2) = hsv_to_rgb(h, s, v);
            assert!((r - r2).abs() < 1e-5 && (g - g2).abs() < 1e-5 && (b - b2).abs() < 1e-5);
        }
    }
}

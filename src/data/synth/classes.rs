//! The synthetic classes: each a facial deformation, some with their own motion, applied with an
//! intensity in [0, 1] that follows onset -> apex -> offset over the expressive segment.
//! Names sort alphabetically in label order, so frame-folder discovery gives the same labels.

use std::f32::consts::PI;

use crate::data::synth::face::Expression;

pub const CLASS_NAMES: [&str; 7] = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Talk"];

/// The deformation of class `class` at `intensity`, `phase` in [0, 1] being the position inside
/// the segment (used by classes with their own motion, like talking).
pub fn class_delta(class: usize, intensity: f32, phase: f32) -> Expression {
    let e = Expression::default();
    let d = match class {
        0 => Expression {
            brow_raise: -0.8,
            brow_inner: -1.0,
            eye_open: 0.65,
            mouth_width: -0.3,
            mouth_curve: -0.2,
            ..e
        },
        1 => Expression {
            brow_raise: -0.3,
            eye_open: 0.7,
            mouth_curve: -0.3,
            mouth_tilt: 0.8,
            mouth_raise: 0.6,
            wrinkle: 1.0,
            ..e
        },
        2 => Expression {
            brow_raise: 0.7,
            brow_inner: 0.8,
            eye_open: 1.5,
            mouth_width: 0.35,
            mouth_open: 0.35,
            ..e
        },
        3 => Expression {
            eye_open: 0.75,
            mouth_width: 0.25,
            mouth_curve: 1.0,
            cheeks: 1.0,
            ..e
        },
        4 => Expression {
            brow_inner: 1.0,
            eye_open: 0.8,
            mouth_width: -0.1,
            mouth_curve: -0.9,
            ..e
        },
        5 => Expression {
            brow_raise: 1.0,
            eye_open: 1.6,
            mouth_width: -0.25,
            mouth_open: 1.0,
            ..e
        },
        // Talking: the jaw opens and closes about three times over the segment; a single frame
        // looks like a weak surprise, only the motion tells them apart.
        _ => {
            let cycle = 0.5 - 0.5 * (2.0 * PI * 3.0 * phase).cos();
            Expression {
                brow_raise: 0.25 * (2.0 * PI * 1.5 * phase).sin(),
                mouth_width: -0.05,
                mouth_open: 0.65 * cycle,
                ..e
            }
        }
    };
    Expression::default().add(&d, intensity)
}

/// The pain grimace (the pain stand-in's PA3 / PA4) at `intensity`: brows lowered, eyes
/// narrowed, nose wrinkled, upper lip raised.
pub fn pain_grimace(intensity: f32) -> Expression {
    let d = Expression {
        brow_raise: -0.7,
        brow_inner: -0.8,
        eye_open: 0.55,
        mouth_raise: 0.6,
        wrinkle: 1.0,
        ..Expression::default()
    };
    Expression::default().add(&d, intensity)
}

/// The intensity of a segment [start, end) with its apex at `apex`, at frame `t`: a smooth rise
/// from the start to the apex and a smooth fall to the end. Positive on every frame of the
/// segment, exactly 1 at the apex, 0 outside.
pub fn intensity_at(t: usize, start: usize, apex: usize, end: usize) -> f32 {
    let smooth = |x: f32| x * x * (3.0 - 2.0 * x);
    if t < start || t >= end {
        0.0
    } else if t < apex {
        smooth((t - start + 1) as f32 / (apex - start + 1) as f32)
    } else if t == apex {
        1.0
    } else {
        smooth((end - t) as f32 / (end - apex) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intensity_profile_is_positive_inside_and_peaks_at_apex() {
        let (s, a, e) = (10, 13, 18);
        let v: Vec<f32> = (0..25).map(|t| intensity_at(t, s, a, e)).collect();
        assert!(v[..10].iter().all(|&x| x == 0.0) && v[18..].iter().all(|&x| x == 0.0));
        assert!(v[10..18].iter().all(|&x| x > 0.0 && x <= 1.0));
        assert_eq!(v[13], 1.0);
        assert!(v[10] < v[11] && v[11] < v[12] && v[12] < v[13] && v[13] > v[14] && v[16] > v[17]);
    }
}

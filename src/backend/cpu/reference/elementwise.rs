//! Elementwise ops as plain loops: relu, inverted dropout, and the add/scale that gradient
//! accumulation needs.

use crate::backend::dropout_mask::keep_element;
use crate::tensor::Float;

pub fn relu_forward<T: Float>(x: &[T]) -> Vec<T> {
    x.iter().map(|&v| if v > T::zero() { v } else { T::zero() }).collect()
}

/// Gradient passes where the input was positive (0 at exactly 0, as PyTorch).
pub fn relu_backward<T: Float>(gy: &[T], x: &[T]) -> Vec<T> {
    gy.iter()
        .zip(x)
        .map(|(&g, &v)| if v > T::zero() { g } else { T::zero() })
        .collect()
}

/// Inverted dropout: kept elements are scaled by 1/(1-p). The mask is a pure function of
/// (seed, element index), so the backward recomputes it instead of storing it.
pub fn dropout<T: Float>(x: &[T], p: f64, seed: u64) -> Vec<T> {
    let scale = if p < 1.0 {
        T::from_f64_lossy(1.0 / (1.0 - p))
    } else {
        T::zero()
    };
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            if keep_element(seed, i as u64, p) {
                v * scale
            } else {
                T::zero()
            }
        })
        .collect()
}

pub fn add<T: Float>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().zip(b).map(|(&x, &y)| x + y).collect()
}

pub fn scale<T: Float>(a: &[T], s: f64) -> Vec<T> {
    let s = T::from_f64_lossy(s);
    a.iter().map(|&x| x * s).collect()
}

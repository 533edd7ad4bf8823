//! Elementwise ops as plain loops: relu, inverted dropout, and the add/scale that gradient
//! accumulation needs.

use super::CpuReference;
use crate::backend::dropout_mask::keep_element;
use crate::backend::ElementwiseOps;
use crate::error::Result;
use crate::tensor::Float;
use crate::tensor::Tensor;

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

impl ElementwiseOps for CpuReference {
    fn relu_forward(&self, x: &Tensor) -> Result<Tensor> {
        const OP: &str = "relu";
        with_float!(OP, x, |T| Tensor::from_vec(
            x.dims(),
            relu_forward::<T>(x.as_slice(OP)?)
        ))
    }

    fn relu_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        const OP: &str = "relu_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            x.dims(),
            relu_backward::<T>(gy.as_slice(OP)?, x.as_slice(OP)?)
        ))
    }

    fn dropout(&self, x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
        const OP: &str = "dropout";
        with_float!(OP, x, |T| Tensor::from_vec(
            x.dims(),
            dropout::<T>(x.as_slice(OP)?, p, seed)
        ))
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        const OP: &str = "add";
        with_float!(OP, a, |T| Tensor::from_vec(
            a.dims(),
            add::<T>(a.as_slice(OP)?, b.as_slice(OP)?)
        ))
    }

    fn scale(&self, a: &Tensor, factor: f64) -> Result<Tensor> {
        const OP: &str = "scale";
        with_float!(OP, a, |T| Tensor::from_vec(
            a.dims(),
            scale::<T>(a.as_slice(OP)?, factor)
        ))
    }
}

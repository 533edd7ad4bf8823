//! Linear layer as plain loops: y = x · Wᵀ + b with PyTorch's (out, in) weight layout.

use super::CpuReference;
use crate::backend::cpu::optional;
use crate::backend::DenseOps;
use crate::error::Result;
use crate::tensor::Float;
use crate::tensor::Tensor;

/// x: (N, I), w: (O, I), bias: (O) -> y: (N, O).  M×N×K = N×O×I.
pub fn linear_forward<T: Float>(x: &[T], w: &[T], bias: Option<&[T]>, rows: usize, ins: usize, outs: usize) -> Vec<T> {
    let mut y = vec![T::zero(); rows * outs];
    for r in 0..rows {
        for o in 0..outs {
            let dot = (0..ins).fold(T::zero(), |acc, i| acc + x[r * ins + i] * w[o * ins + i]);
            y[r * outs + o] = bias.map_or(dot, |b| dot + b[o]);
        }
    }
    y
}

/// gy: (N, O), w: (O, I) -> gx: (N, I).  M×N×K = N×I×O.
pub fn linear_x_backward<T: Float>(gy: &[T], w: &[T], rows: usize, ins: usize, outs: usize) -> Vec<T> {
    let mut gx = vec![T::zero(); rows * ins];
    for r in 0..rows {
        for i in 0..ins {
            gx[r * ins + i] = (0..outs).fold(T::zero(), |acc, o| acc + gy[r * outs + o] * w[o * ins + i]);
        }
    }
    gx
}

/// gy: (N, O), x: (N, I) -> gw: (O, I).  M×N×K = O×I×N.
pub fn linear_weight_backward<T: Float>(gy: &[T], x: &[T], rows: usize, ins: usize, outs: usize) -> Vec<T> {
    let mut gw = vec![T::zero(); outs * ins];
    for o in 0..outs {
        for i in 0..ins {
            gw[o * ins + i] = (0..rows).fold(T::zero(), |acc, r| acc + gy[r * outs + o] * x[r * ins + i]);
        }
    }
    gw
}

/// gy: (N, O) -> gb: (O).
pub fn linear_bias_backward<T: Float>(gy: &[T], rows: usize, outs: usize) -> Vec<T> {
    (0..outs)
        .map(|o| (0..rows).fold(T::zero(), |acc, r| acc + gy[r * outs + o]))
        .collect()
}

impl DenseOps for CpuReference {
    fn linear_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        const OP: &str = "linear";
        let (rows, ins, outs) = (x.dims()[0], x.dims()[1], w.dims()[0]);
        with_float!(OP, x, |T| Tensor::from_vec(
            &[rows, outs],
            linear_forward::<T>(x.as_slice(OP)?, w.as_slice(OP)?, optional(bias, OP)?, rows, ins, outs)
        ))
    }

    fn linear_x_backward(&self, gy: &Tensor, w: &Tensor) -> Result<Tensor> {
        const OP: &str = "linear_x_backward";
        let (rows, outs, ins) = (gy.dims()[0], w.dims()[0], w.dims()[1]);
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[rows, ins],
            linear_x_backward::<T>(gy.as_slice(OP)?, w.as_slice(OP)?, rows, ins, outs)
        ))
    }

    fn linear_weight_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        const OP: &str = "linear_weight_backward";
        let (rows, outs, ins) = (gy.dims()[0], gy.dims()[1], x.dims()[1]);
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[outs, ins],
            linear_weight_backward::<T>(gy.as_slice(OP)?, x.as_slice(OP)?, rows, ins, outs)
        ))
    }

    fn linear_bias_backward(&self, gy: &Tensor) -> Result<Tensor> {
        const OP: &str = "linear_bias_backward";
        let (rows, outs) = (gy.dims()[0], gy.dims()[1]);
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[outs],
            linear_bias_backward::<T>(gy.as_slice(OP)?, rows, outs)
        ))
    }
}

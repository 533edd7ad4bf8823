//! Elementwise ops on the fast CPU backend: ReLU and sums of f32 split over rayon's threads;
//! the rest (and f64) on the reference loops.

use super::CpuFast;
use crate::backend::cpu::reference::CpuReference;
use crate::backend::ElementwiseOps;
use crate::error::Result;
use crate::tensor::DType;
use crate::tensor::Tensor;
use rayon::prelude::*;

impl ElementwiseOps for CpuFast {
    fn relu_forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.dtype() != DType::F32 {
            return CpuReference.relu_forward(x);
        }
        let xs = x.as_slice::<f32>("relu")?;
        Tensor::from_vec(
            x.dims(),
            xs.par_iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect(),
        )
    }

    fn relu_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        if gy.dtype() != DType::F32 {
            return CpuReference.relu_backward(gy, x);
        }
        const OP: &str = "relu_backward";
        let (g, xs) = (gy.as_slice::<f32>(OP)?, x.as_slice::<f32>(OP)?);
        Tensor::from_vec(
            x.dims(),
            g.par_iter()
                .zip(xs)
                .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
                .collect(),
        )
    }

    fn dropout(&self, x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
        CpuReference.dropout(x, p, seed)
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if a.dtype() != DType::F32 {
            return CpuReference.add(a, b);
        }
        let (xa, xb) = (a.as_slice::<f32>("add")?, b.as_slice::<f32>("add")?);
        Tensor::from_vec(a.dims(), xa.par_iter().zip(xb).map(|(&x, &y)| x + y).collect())
    }

    fn scale(&self, a: &Tensor, factor: f64) -> Result<Tensor> {
        CpuReference.scale(a, factor)
    }
}

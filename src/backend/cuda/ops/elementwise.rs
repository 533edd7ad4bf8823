//! Launchers of kernels/elementwise.cu: relu, dropout, add, scale, fill.

use super::common::by_dtype;
use super::common::{self as c, empty, launch, ptr};
use super::CudaBackend;
use crate::backend::cuda::params::{ElementwiseParams, KernelFloat};
use crate::backend::dropout_mask::drop_threshold;
use crate::backend::ElementwiseOps;
use crate::error::Result;
use crate::tensor::Tensor;

/// out = kernel(a, b) over a's shape.
fn run<T: KernelFloat>(
    base: &str,
    op: &'static str,
    a: &Tensor,
    b: Option<&Tensor>,
    extra: ElementwiseParams<T>,
) -> Result<Tensor> {
    let l = c::launcher(a, op)?;
    let out = empty(&l, a.dims(), T::DTYPE)?;
    let p = ElementwiseParams::<T> {
        a: ptr(a, op)?,
        b: c::opt_ptr(b, op)?,
        out: ptr(&out, op)?,
        n: a.numel() as i64,
        ..extra
    };
    // SAFETY: a, b (same shape, checked by crate::ops) and out hold n elements.
    unsafe { launch::<T, _>(&l, base, c::flat(a.numel()), &p)? };
    Ok(out)
}

pub fn relu_forward<T: KernelFloat>(x: &Tensor) -> Result<Tensor> {
    run::<T>("relu_fwd", "relu", x, None, Default::default())
}

pub fn relu_backward<T: KernelFloat>(gy: &Tensor, x: &Tensor) -> Result<Tensor> {
    run::<T>("relu_bwd", "relu_backward", gy, Some(x), Default::default())
}

/// The same mask as the CPU reference: 24 bits of the counter hash against round(p·2²⁴).
pub fn dropout<T: KernelFloat>(x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
    let extra = ElementwiseParams {
        factor: T::from_f64(if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 }),
        seed,
        threshold: drop_threshold(p),
        ..Default::default()
    };
    run::<T>("dropout_fwd", "dropout", x, None, extra)
}

pub fn add<T: KernelFloat>(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    run::<T>("add_fwd", "add", a, Some(b), Default::default())
}

pub fn scale<T: KernelFloat>(a: &Tensor, factor: f64) -> Result<Tensor> {
    let extra = ElementwiseParams {
        factor: T::from_f64(factor),
        ..Default::default()
    };
    run::<T>("scale_fwd", "scale", a, None, extra)
}

impl ElementwiseOps for CudaBackend {
    fn relu_forward(&self, x: &Tensor) -> Result<Tensor> {
        by_dtype!("relu", x, relu_forward, (x))
    }

    fn relu_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        by_dtype!("relu_backward", gy, relu_backward, (gy, x))
    }

    fn dropout(&self, x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
        by_dtype!("dropout", x, dropout, (x, p, seed))
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        by_dtype!("add", a, add, (a, b))
    }

    fn scale(&self, a: &Tensor, factor: f64) -> Result<Tensor> {
        by_dtype!("scale", a, scale, (a, factor))
    }
}

//! Launchers of kernels/dense.cu: the linear layer on the tiled GEMM.

use super::common::by_dtype;
use super::common::{self as c, empty, launch, ptr};
use super::CudaBackend;
use crate::backend::cuda::params::{KernelFloat, LinearParams};
use crate::backend::DenseOps;
use crate::error::Result;
use crate::tensor::Tensor;

fn params<T: KernelFloat>(rows: usize, ins: usize, outs: usize, op: &'static str) -> Result<LinearParams<T>> {
    c::i32_of(rows * ins.max(outs), op)?;
    c::i32_of(ins * outs, op)?;
    Ok(LinearParams {
        rows: rows as i32,
        ins: ins as i32,
        outs: outs as i32,
        ..Default::default()
    })
}

/// x: (N, I), w: (O, I), bias: (O) -> (N, O).
pub fn forward<T: KernelFloat>(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    const OP: &str = "linear";
    let (rows, ins, outs) = (x.dims()[0], x.dims()[1], w.dims()[0]);
    let l = c::launcher(x, OP)?;
    let y = empty(&l, &[rows, outs], T::DTYPE)?;
    let p = LinearParams::<T> {
        x: ptr(x, OP)?,
        w: ptr(w, OP)?,
        b: c::opt_ptr(bias, OP)?,
        out: ptr(&y, OP)?,
        ..params(rows, ins, outs, OP)?
    };
    // SAFETY: shapes checked by crate::ops; y is (rows, outs).
    unsafe { launch::<T, _>(&l, "linear_fwd", c::gemm(rows, outs), &p)? };
    Ok(y)
}

pub fn x_backward<T: KernelFloat>(gy: &Tensor, w: &Tensor) -> Result<Tensor> {
    const OP: &str = "linear_x_backward";
    let (rows, outs, ins) = (gy.dims()[0], w.dims()[0], w.dims()[1]);
    let l = c::launcher(gy, OP)?;
    let gx = empty(&l, &[rows, ins], T::DTYPE)?;
    let p = LinearParams::<T> {
        gy: ptr(gy, OP)?,
        w: ptr(w, OP)?,
        out: ptr(&gx, OP)?,
        ..params(rows, ins, outs, OP)?
    };
    // SAFETY: as above.
    unsafe { launch::<T, _>(&l, "linear_xbwd", c::gemm(rows, ins), &p)? };
    Ok(gx)
}

pub fn weight_backward<T: KernelFloat>(gy: &Tensor, x: &Tensor) -> Result<Tensor> {
    const OP: &str = "linear_weight_backward";
    let (rows, outs, ins) = (gy.dims()[0], gy.dims()[1], x.dims()[1]);
    let l = c::launcher(gy, OP)?;
    let gw = empty(&l, &[outs, ins], T::DTYPE)?;
    let p = LinearParams::<T> {
        gy: ptr(gy, OP)?,
        x: ptr(x, OP)?,
        out: ptr(&gw, OP)?,
        ..params(rows, ins, outs, OP)?
    };
    // SAFETY: as above.
    unsafe { launch::<T, _>(&l, "linear_wbwd", c::gemm(outs, ins), &p)? };
    Ok(gw)
}

pub fn bias_backward<T: KernelFloat>(gy: &Tensor) -> Result<Tensor> {
    const OP: &str = "linear_bias_backward";
    let (rows, outs) = (gy.dims()[0], gy.dims()[1]);
    let l = c::launcher(gy, OP)?;
    let gb = empty(&l, &[outs], T::DTYPE)?;
    let p = LinearParams::<T> {
        gy: ptr(gy, OP)?,
        out: ptr(&gb, OP)?,
        ..params(rows, 1, outs, OP)?
    };
    // SAFETY: as above.
    unsafe { launch::<T, _>(&l, "linear_bbwd", c::per_row::<T>(outs), &p)? };
    Ok(gb)
}

impl DenseOps for CudaBackend {
    fn linear_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        by_dtype!("linear", x, forward, (x, w, bias))
    }

    fn linear_x_backward(&self, gy: &Tensor, w: &Tensor) -> Result<Tensor> {
        by_dtype!("linear_x_backward", gy, x_backward, (gy, w))
    }

    fn linear_weight_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        by_dtype!("linear_weight_backward", gy, weight_backward, (gy, x))
    }

    fn linear_bias_backward(&self, gy: &Tensor) -> Result<Tensor> {
        by_dtype!("linear_bias_backward", gy, bias_backward, (gy))
    }
}

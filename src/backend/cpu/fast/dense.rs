//! Linear layers as GEMMs, split over disjoint output column blocks (no cross-thread sums).

use rayon::prelude::*;

use super::gemm::{gemm, FastFloat, MatRef};
use super::send_ptr::SendPtr;
use super::CpuFast;
use crate::backend::cpu::optional;
use crate::backend::cpu::reference::CpuReference;
use crate::backend::DenseOps;
use crate::error::Result;
use crate::tensor::Tensor;

/// Column blocks of `cols` for parallel tasks: (first column, count).
fn column_blocks(cols: usize) -> Vec<(usize, usize)> {
    let tasks = (rayon::current_num_threads() * 4).max(1);
    let width = cols.div_ceil(tasks).max(16);
    (0..cols).step_by(width).map(|c0| (c0, width.min(cols - c0))).collect()
}

/// Runs `block(c0, count, dst)` for every column block of a (rows × cols) output in parallel;
/// `dst` points at column c0 of row 0 (row stride `cols`).
fn par_columns<T: FastFloat>(out: &mut [T], cols: usize, block: impl Fn(usize, usize, *mut T) + Sync) {
    let ptr = SendPtr(out.as_mut_ptr());
    column_blocks(cols).into_par_iter().for_each(|(c0, count)| {
        // Safety: each task gets a distinct column range of `out`.
        block(c0, count, unsafe { ptr.get().add(c0) })
    });
}

/// x: (N, I), w: (O, I), bias: (O) -> (N, O).  M×N×K = N×O×I.
pub fn linear_forward<T: FastFloat>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    rows: usize,
    ins: usize,
    outs: usize,
) -> Vec<T> {
    let mut y = vec![T::zero(); rows * outs];
    if let Some(b) = bias {
        y.chunks_mut(outs).for_each(|row| row.copy_from_slice(b));
    }
    par_columns(&mut y, outs, |o0, count, dst| {
        let wt = MatRef {
            data: &w[o0 * ins..],
            rs: 1,
            cs: ins,
        };
        // Safety: dst covers columns o0 .. o0+count of y, owned by this task.
        unsafe { gemm(rows, count, ins, MatRef::rows(x, ins), wt, dst, outs, bias.is_some()) };
    });
    y
}

/// gy: (N, O), w: (O, I) -> gx: (N, I).  M×N×K = N×I×O.
pub fn linear_x_backward<T: FastFloat>(gy: &[T], w: &[T], rows: usize, ins: usize, outs: usize) -> Vec<T> {
    let mut gx = vec![T::zero(); rows * ins];
    par_columns(&mut gx, ins, |i0, count, dst| {
        let wb = MatRef {
            data: &w[i0..],
            rs: ins,
            cs: 1,
        };
        // Safety: dst covers columns i0 .. i0+count of gx, owned by this task.
        unsafe { gemm(rows, count, outs, MatRef::rows(gy, outs), wb, dst, ins, false) };
    });
    gx
}

/// gy: (N, O), x: (N, I) -> gw: (O, I).  M×N×K = O×I×N.
pub fn linear_weight_backward<T: FastFloat>(gy: &[T], x: &[T], rows: usize, ins: usize, outs: usize) -> Vec<T> {
    let mut gw = vec![T::zero(); outs * ins];
    par_columns(&mut gw, ins, |i0, count, dst| {
        let xb = MatRef {
            data: &x[i0..],
            rs: ins,
            cs: 1,
        };
        // Safety: dst covers columns i0 .. i0+count of gw, owned by this task.
        unsafe { gemm(outs, count, rows, MatRef::transposed(gy, outs), xb, dst, ins, false) };
    });
    gw
}

impl DenseOps for CpuFast {
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
        CpuReference.linear_bias_backward(gy)
    }
}

//! Launchers of kernels/temporal.cu: sliding-window max, temporal softmax pooling and the two
//! fused (test-time window scoring) over the last axis.

use super::common::by_dtype;
use super::common::{self as c, empty, launch, ptr};
use super::CudaBackend;
use crate::backend::cuda::params::{KernelFloat, TemporalParams};
use crate::backend::TemporalOps;
use crate::backend::POOL_STATE;
use crate::error::Result;
use crate::tensor::{DType, Tensor};

/// (rows, last) of a tensor whose last axis the op runs along.
fn rows_and_last(t: &Tensor) -> (usize, usize) {
    let last = t.dims().last().copied().unwrap_or(1);
    (t.numel() / last.max(1), last)
}

fn with_last(t: &Tensor, last: usize) -> Vec<usize> {
    let mut d = t.dims().to_vec();
    if let Some(x) = d.last_mut() {
        *x = last;
    }
    d
}

fn params<T: KernelFloat>(rows: usize, len: usize, windows: usize, op: &'static str) -> Result<TemporalParams<T>> {
    c::i32_of(rows * len.max(windows), op)?;
    Ok(TemporalParams {
        rows: rows as i32,
        len: len as i32,
        windows: windows as i32,
        ..Default::default()
    })
}

pub fn sliding_max_forward<T: KernelFloat>(x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
    const OP: &str = "sliding_max";
    let (rows, len) = rows_and_last(x);
    let windows = len - k + 1;
    let l = c::launcher(x, OP)?;
    let dims = with_last(x, windows);
    let (y, arg) = (empty(&l, &dims, T::DTYPE)?, empty(&l, &dims, DType::U32)?);
    let p = TemporalParams::<T> {
        x: ptr(x, OP)?,
        out: ptr(&y, OP)?,
        arg_out: ptr(&arg, OP)?,
        ..params(rows, len, windows, OP)?
    };
    // SAFETY: x is (rows, len), y and arg (rows, windows).
    unsafe { launch::<T, _>(&l, "sliding_max_fwd", c::flat(rows * windows), &p)? };
    Ok((y, arg))
}

pub fn sliding_max_backward<T: KernelFloat>(gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor> {
    const OP: &str = "sliding_max_backward";
    let (rows, windows) = rows_and_last(gy);
    let l = c::launcher(gy, OP)?;
    let gx = empty(&l, &with_last(gy, len), T::DTYPE)?;
    let p = TemporalParams::<T> {
        gy: ptr(gy, OP)?,
        arg: ptr(argmax, OP)?,
        out: ptr(&gx, OP)?,
        ..params(rows, len, windows, OP)?
    };
    // SAFETY: gy and argmax are (rows, windows), gx (rows, len).
    unsafe { launch::<T, _>(&l, "sliding_max_bwd", c::flat(rows * len), &p)? };
    Ok(gx)
}

pub fn softmax_pool_forward<T: KernelFloat>(s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)> {
    const OP: &str = "temporal_softmax_pool";
    let (rows, windows) = rows_and_last(s);
    let l = c::launcher(s, OP)?;
    let f = empty(&l, &s.dims()[..s.rank() - 1], T::DTYPE)?;
    let w = empty(&l, s.dims(), T::DTYPE)?;
    let p = TemporalParams::<T> {
        x: ptr(s, OP)?,
        out: ptr(&f, OP)?,
        out2: ptr(&w, OP)?,
        gamma: T::from_f64(gamma),
        ..params(rows, windows, windows, OP)?
    };
    // SAFETY: s and w are (rows, windows), f (rows).
    unsafe { launch::<T, _>(&l, "softmax_pool_fwd", c::flat(rows), &p)? };
    Ok((f, w))
}

pub fn softmax_pool_backward<T: KernelFloat>(
    gf: &Tensor,
    s: &Tensor,
    f: &Tensor,
    pw: &Tensor,
    gamma: f64,
) -> Result<Tensor> {
    const OP: &str = "temporal_softmax_pool_backward";
    let (rows, windows) = rows_and_last(s);
    let l = c::launcher(s, OP)?;
    let gs = empty(&l, s.dims(), T::DTYPE)?;
    let p = TemporalParams::<T> {
        x: ptr(s, OP)?,
        gy: ptr(gf, OP)?,
        f: ptr(f, OP)?,
        p: ptr(pw, OP)?,
        out: ptr(&gs, OP)?,
        gamma: T::from_f64(gamma),
        ..params(rows, windows, windows, OP)?
    };
    // SAFETY: s, p, gs are (rows, windows); gf and f (rows).
    unsafe { launch::<T, _>(&l, "softmax_pool_bwd", c::flat(rows * windows), &p)? };
    Ok(gs)
}

pub fn window_pool_forward<T: KernelFloat>(x: &Tensor, k: usize, gamma: f64) -> Result<Tensor> {
    const OP: &str = "window_pool";
    let (rows, len) = rows_and_last(x);
    let l = c::launcher(x, OP)?;
    let states = empty(&l, &with_last(x, POOL_STATE), T::DTYPE)?;
    let p = TemporalParams::<T> {
        x: ptr(x, OP)?,
        out: ptr(&states, OP)?,
        gamma: T::from_f64(gamma),
        ..params(rows, len, len - k + 1, OP)?
    };
    // SAFETY: x is (rows, len), states (rows, 4); one block per row.
    unsafe { launch::<T, _>(&l, "window_pool_fwd", c::per_row::<T>(rows), &p)? };
    Ok(states)
}

impl TemporalOps for CudaBackend {
    fn sliding_max_forward(&self, x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
        by_dtype!("sliding_max", x, sliding_max_forward, (x, k))
    }

    fn sliding_max_backward(&self, gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor> {
        by_dtype!("sliding_max_backward", gy, sliding_max_backward, (gy, argmax, len))
    }

    fn softmax_pool_forward(&self, s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)> {
        by_dtype!("temporal_softmax_pool", s, softmax_pool_forward, (s, gamma))
    }

    fn softmax_pool_backward(&self, gf: &Tensor, s: &Tensor, f: &Tensor, p: &Tensor, gamma: f64) -> Result<Tensor> {
        by_dtype!(
            "temporal_softmax_pool_backward",
            s,
            softmax_pool_backward,
            (gf, s, f, p, gamma)
        )
    }

    fn window_pool_forward(&self, x: &Tensor, k: usize, gamma: f64) -> Result<Tensor> {
        by_dtype!("window_pool", x, window_pool_forward, (x, k, gamma))
    }
}

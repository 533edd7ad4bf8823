//! Launchers of kernels/loss.cu: log-softmax and cross-entropy over (N, K) logits.

use super::common::by_dtype;
use super::common::{self as c, empty, launch, ptr};
use super::CudaBackend;
use crate::backend::cuda::launcher::{DeviceBuffer, KernelLauncher, LaunchConfig};
use crate::backend::cuda::params::{KernelFloat, LossParams};
use crate::backend::LossOps;
use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::Arc;

fn shape(x: &Tensor, op: &'static str) -> Result<(usize, usize)> {
    let classes = x.dims().last().copied().unwrap_or(1);
    c::fits_i32(x, op)?;
    Ok((x.numel() / classes.max(1), classes))
}

/// The labels as a u32 device array for the kernels.
fn upload_labels(l: &Arc<dyn KernelLauncher>, labels: &[usize]) -> Result<DeviceBuffer> {
    let bytes: Vec<u8> = labels.iter().flat_map(|&y| (y as u32).to_ne_bytes()).collect();
    DeviceBuffer::from_bytes(l, &bytes)
}

pub fn log_softmax_forward<T: KernelFloat>(x: &Tensor) -> Result<Tensor> {
    const OP: &str = "log_softmax";
    let (rows, classes) = shape(x, OP)?;
    let l = c::launcher(x, OP)?;
    let y = empty(&l, x.dims(), T::DTYPE)?;
    let p = LossParams::<T> {
        x: ptr(x, OP)?,
        out: ptr(&y, OP)?,
        rows: rows as i32,
        classes: classes as i32,
        ..Default::default()
    };
    // SAFETY: x and y are (rows, classes).
    unsafe { launch::<T, _>(&l, "log_softmax_fwd", c::per_row::<T>(rows), &p)? };
    Ok(y)
}

pub fn log_softmax_backward<T: KernelFloat>(gy: &Tensor, y: &Tensor) -> Result<Tensor> {
    const OP: &str = "log_softmax_backward";
    let (rows, classes) = shape(y, OP)?;
    let l = c::launcher(y, OP)?;
    let gx = empty(&l, y.dims(), T::DTYPE)?;
    let p = LossParams::<T> {
        x: ptr(y, OP)?,
        gy: ptr(gy, OP)?,
        out: ptr(&gx, OP)?,
        rows: rows as i32,
        classes: classes as i32,
        ..Default::default()
    };
    // SAFETY: gy, y and gx are (rows, classes).
    unsafe { launch::<T, _>(&l, "log_softmax_bwd", c::per_row::<T>(rows), &p)? };
    Ok(gx)
}

pub fn cross_entropy_forward<T: KernelFloat>(x: &Tensor, labels: &[usize]) -> Result<Tensor> {
    const OP: &str = "cross_entropy";
    let (rows, classes) = shape(x, OP)?;
    let l = c::launcher(x, OP)?;
    let labels = upload_labels(&l, labels)?;
    let loss = empty(&l, &[], T::DTYPE)?;
    let p = LossParams::<T> {
        x: ptr(x, OP)?,
        labels: labels.ptr(),
        out: ptr(&loss, OP)?,
        rows: rows as i32,
        classes: classes as i32,
        ..Default::default()
    };
    // One block walks the rows in order: a deterministic mean without atomics.
    let cfg = LaunchConfig {
        grid: [1, 1, 1],
        ..c::per_row::<T>(1)
    };
    // SAFETY: x is (rows, classes), labels (rows) in range (checked by crate::ops), loss (1).
    unsafe { launch::<T, _>(&l, "cross_entropy_fwd", cfg, &p)? };
    Ok(loss)
}

pub fn cross_entropy_backward<T: KernelFloat>(g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
    const OP: &str = "cross_entropy_backward";
    let (rows, classes) = shape(x, OP)?;
    let l = c::launcher(x, OP)?;
    let labels = upload_labels(&l, labels)?;
    let gx = empty(&l, x.dims(), T::DTYPE)?;
    let p = LossParams::<T> {
        x: ptr(x, OP)?,
        labels: labels.ptr(),
        out: ptr(&gx, OP)?,
        rows: rows as i32,
        classes: classes as i32,
        scale: T::from_f64(g / rows as f64),
        ..Default::default()
    };
    // SAFETY: as in the forward.
    unsafe { launch::<T, _>(&l, "cross_entropy_bwd", c::per_row::<T>(rows), &p)? };
    Ok(gx)
}

impl LossOps for CudaBackend {
    fn log_softmax_forward(&self, x: &Tensor) -> Result<Tensor> {
        by_dtype!("log_softmax", x, log_softmax_forward, (x))
    }

    fn log_softmax_backward(&self, gy: &Tensor, y: &Tensor) -> Result<Tensor> {
        by_dtype!("log_softmax_backward", y, log_softmax_backward, (gy, y))
    }

    fn cross_entropy_forward(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        by_dtype!("cross_entropy", x, cross_entropy_forward, (x, labels))
    }

    fn cross_entropy_backward(&self, g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        by_dtype!("cross_entropy_backward", x, cross_entropy_backward, (g, x, labels))
    }
}

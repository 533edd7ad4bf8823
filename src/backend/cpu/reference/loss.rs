//! Log-softmax and cross-entropy over the last axis of (N, K) logits.

use super::CpuReference;
use crate::backend::cpu::rows_and_last;
use crate::backend::LossOps;
use crate::error::Result;
use crate::tensor::Float;
use crate::tensor::Tensor;

/// x: (rows, K) -> log_softmax(x) per row, shifted by the row max for stability.
pub fn log_softmax_forward<T: Float>(x: &[T], classes: usize) -> Vec<T> {
    let mut y = Vec::with_capacity(x.len());
    for row in x.chunks(classes) {
        let top = row.iter().copied().fold(T::neg_infinity(), T::max);
        let log_total = row.iter().map(|&v| (v - top).exp()).sum::<T>().ln() + top;
        y.extend(row.iter().map(|&v| v - log_total));
    }
    y
}

/// gy, y = log_softmax(x): (rows, K) -> gx = gy − softmax(x) · Σ_k gy.
pub fn log_softmax_backward<T: Float>(gy: &[T], y: &[T], classes: usize) -> Vec<T> {
    let mut gx = Vec::with_capacity(y.len());
    for (g_row, y_row) in gy.chunks(classes).zip(y.chunks(classes)) {
        let total: T = g_row.iter().copied().sum();
        gx.extend(g_row.iter().zip(y_row).map(|(&g, &l)| g - l.exp() * total));
    }
    gx
}

/// Mean over rows of −log_softmax(x)[row, label]. Labels are already range-checked.
pub fn cross_entropy_forward<T: Float>(x: &[T], labels: &[usize], classes: usize) -> T {
    let logp = log_softmax_forward(x, classes);
    let total = labels
        .iter()
        .enumerate()
        .fold(T::zero(), |acc, (r, &y)| acc - logp[r * classes + y]);
    total / T::from_usize(labels.len()).expect("batch fits a float")
}

/// ∂loss/∂x = g · (softmax(x) − onehot(label)) / rows.
pub fn cross_entropy_backward<T: Float>(g: T, x: &[T], labels: &[usize], classes: usize) -> Vec<T> {
    let scale = g / T::from_usize(labels.len()).expect("batch fits a float");
    let mut gx = log_softmax_forward(x, classes);
    for (r, row) in gx.chunks_mut(classes).enumerate() {
        for (k, v) in row.iter_mut().enumerate() {
            let onehot = if k == labels[r] { T::one() } else { T::zero() };
            *v = (v.exp() - onehot) * scale;
        }
    }
    gx
}

impl LossOps for CpuReference {
    fn log_softmax_forward(&self, x: &Tensor) -> Result<Tensor> {
        const OP: &str = "log_softmax";
        let (_, classes) = rows_and_last(x);
        with_float!(OP, x, |T| Tensor::from_vec(
            x.dims(),
            log_softmax_forward::<T>(x.as_slice(OP)?, classes)
        ))
    }

    fn log_softmax_backward(&self, gy: &Tensor, y: &Tensor) -> Result<Tensor> {
        const OP: &str = "log_softmax_backward";
        let (_, classes) = rows_and_last(y);
        with_float!(OP, y, |T| Tensor::from_vec(
            y.dims(),
            log_softmax_backward::<T>(gy.as_slice(OP)?, y.as_slice(OP)?, classes)
        ))
    }

    fn cross_entropy_forward(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        const OP: &str = "cross_entropy";
        let (_, classes) = rows_and_last(x);
        with_float!(OP, x, |T| Ok(Tensor::scalar(cross_entropy_forward::<T>(
            x.as_slice(OP)?,
            labels,
            classes
        ))))
    }

    fn cross_entropy_backward(&self, g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        const OP: &str = "cross_entropy_backward";
        let (_, classes) = rows_and_last(x);
        with_float!(OP, x, |T| Tensor::from_vec(
            x.dims(),
            cross_entropy_backward::<T>(T::from_f64_lossy(g), x.as_slice(OP)?, labels, classes)
        ))
    }
}

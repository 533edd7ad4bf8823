//! The LossOps family of the `Backend` trait: Log-softmax and cross-entropy over class logits.
//! Each backend implements it in its own `loss` file.

use crate::error::Result;
use crate::tensor::Tensor;

pub trait LossOps {
    /// Over the last axis of x: (N, K).
    fn log_softmax_forward(&self, x: &Tensor) -> Result<Tensor>;
    fn log_softmax_backward(&self, gy: &Tensor, y: &Tensor) -> Result<Tensor>;
    /// Batch-mean cross-entropy of (N, K) logits; labels already range-checked. Returns a scalar.
    fn cross_entropy_forward(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor>;
    fn cross_entropy_backward(&self, g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor>;
}

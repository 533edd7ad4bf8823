//! Loss ops on the fast CPU backend: the reference loops (a (batch × classes) input is small).

use super::CpuFast;
use crate::backend::cpu::reference::CpuReference;
use crate::backend::LossOps;
use crate::error::Result;
use crate::tensor::Tensor;

impl LossOps for CpuFast {
    fn log_softmax_forward(&self, x: &Tensor) -> Result<Tensor> {
        CpuReference.log_softmax_forward(x)
    }

    fn log_softmax_backward(&self, gy: &Tensor, y: &Tensor) -> Result<Tensor> {
        CpuReference.log_softmax_backward(gy, y)
    }

    fn cross_entropy_forward(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        CpuReference.cross_entropy_forward(x, labels)
    }

    fn cross_entropy_backward(&self, g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        CpuReference.cross_entropy_backward(g, x, labels)
    }
}

//! What an optimizer step asks of a backend: the update's constants and the tensors it reads.
//! `optim::Sgd` fills these in; every backend's `sgd_step` takes them.

use crate::tensor::Tensor;

/// The per-step constants of one group's update, as the kernels take them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub nesterov: bool,
    /// Multiplies the raw gradient first: 1/k for k accumulated micro-batches.
    pub grad_scale: f64,
}

/// One (parameter, gradient, momentum buffer) triple of a multi-tensor update.
pub struct SgdTensors<'a> {
    pub param: &'a Tensor,
    pub grad: &'a Tensor,
    /// None before the parameter's first momentum step.
    pub momentum: Option<&'a Tensor>,
}

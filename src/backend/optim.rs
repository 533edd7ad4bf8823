//! The OptimOps family of the `Backend` trait: optimizer updates, with what a step asks of a
//! backend (the update's constants and the tensors it reads; `optim::Sgd` fills them in).
//! Each backend implements it in its own `optim` file.

use crate::error::Result;
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

pub trait OptimOps {
    /// One SGD-momentum update: returns (new parameter, new momentum buffer).
    fn sgd_step(
        &self,
        param: &Tensor,
        grad: &Tensor,
        momentum: Option<&Tensor>,
        h: &SgdStep,
    ) -> Result<(Tensor, Tensor)>;

    /// The same update of several tensors (one dtype, this backend's device) with shared
    /// hyper-parameters; a backend may do them all at once (CUDA: one launch). The default
    /// steps them one by one on this same backend.
    fn sgd_step_many(&self, items: &[SgdTensors<'_>], h: &SgdStep) -> Result<Vec<(Tensor, Tensor)>> {
        items
            .iter()
            .map(|it| self.sgd_step(it.param, it.grad, it.momentum, h))
            .collect()
    }
}

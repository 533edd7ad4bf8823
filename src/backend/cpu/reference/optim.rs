//! The SGD-momentum update of one parameter tensor.

use super::CpuReference;
use crate::backend::cpu::optional;
use crate::backend::optim::SgdStep;
use crate::backend::OptimOps;
use crate::error::Result;
use crate::tensor::Float;
use crate::tensor::Tensor;

/// Returns (new parameter, new momentum buffer); see `crate::optim::sgd` for the rule.
pub fn sgd_step<T: Float>(p: &[T], g: &[T], buf: Option<&[T]>, h: &SgdStep) -> (Vec<T>, Vec<T>) {
    let mut new_p = vec![T::zero(); p.len()];
    let mut new_buf = vec![T::zero(); p.len()];
    sgd_step_into(p, g, buf, h, &mut new_p, &mut new_buf);
    (new_p, new_buf)
}

/// `sgd_step` into given outputs (all slices of one length). Each element's update reads that
/// element alone, so any split of the slices gives the same bits (the fast backend's threads).
pub fn sgd_step_into<T: Float>(p: &[T], g: &[T], buf: Option<&[T]>, h: &SgdStep, new_p: &mut [T], new_buf: &mut [T]) {
    let f = T::from_f64_lossy;
    let (lr, wd, mu, damp, scale) = (
        f(h.lr),
        f(h.weight_decay),
        f(h.momentum),
        f(h.dampening),
        f(h.grad_scale),
    );
    for i in 0..p.len() {
        let d = g[i] * scale + wd * p[i];
        let b = match buf {
            Some(b) => mu * b[i] + (T::one() - damp) * d,
            None => d,
        };
        let step = if mu == T::zero() {
            d
        } else if h.nesterov {
            d + mu * b
        } else {
            b
        };
        new_p[i] = p[i] - lr * step;
        new_buf[i] = b;
    }
}

impl OptimOps for CpuReference {
    fn sgd_step(
        &self,
        param: &Tensor,
        grad: &Tensor,
        momentum: Option<&Tensor>,
        h: &SgdStep,
    ) -> Result<(Tensor, Tensor)> {
        const OP: &str = "sgd_step";
        with_float!(OP, param, |T| {
            let (p, b) = sgd_step::<T>(param.as_slice(OP)?, grad.as_slice(OP)?, optional(momentum, OP)?, h);
            Ok((Tensor::from_vec(param.dims(), p)?, Tensor::from_vec(param.dims(), b)?))
        })
    }
}

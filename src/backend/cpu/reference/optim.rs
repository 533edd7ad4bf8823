//! The SGD-momentum update of one parameter tensor.

use crate::optim::SgdStep;
use crate::tensor::Float;

/// Returns (new parameter, new momentum buffer); see `crate::optim::sgd` for the rule.
pub fn sgd_step<T: Float>(p: &[T], g: &[T], buf: Option<&[T]>, h: &SgdStep) -> (Vec<T>, Vec<T>) {
    let f = T::from_f64_lossy;
    let (lr, wd, mu, damp, scale) = (
        f(h.lr),
        f(h.weight_decay),
        f(h.momentum),
        f(h.dampening),
        f(h.grad_scale),
    );
    let mut new_p = Vec::with_capacity(p.len());
    let mut new_buf = Vec::with_capacity(p.len());
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
        new_p.push(p[i] - lr * step);
        new_buf.push(b);
    }
    (new_p, new_buf)
}

//! Temporal ops on per-class score sequences (N, C, T): the clip score (max over a clip's
//! frames), the sliding-window max over time, and temporal softmax pooling (paper Eq. 3).

use crate::autograd::Var;
use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

fn check_scores(op: &'static str, x: &Tensor) -> Result<usize> {
    x.expect_float(op, "scores")?;
    let [_, _, t] = x.shape().expect_rank::<3>(op, "scores (N, C, T)")?;
    if t == 0 {
        return Err(Error::shape(op, format!("scores {} have no time steps", x.shape())));
    }
    Ok(t)
}

fn check_window(op: &'static str, x: &Tensor, k: usize) -> Result<usize> {
    let t = check_scores(op, x)?;
    if k == 0 || k > t {
        return Err(Error::argument(
            op,
            format!("window {k} must be in 1..={t} for scores {}", x.shape()),
        ));
    }
    Ok(t)
}

fn check_gamma(op: &'static str, gamma: f64) -> Result<()> {
    if !gamma.is_finite() {
        return Err(Error::argument(op, format!("gamma = {gamma} must be finite")));
    }
    Ok(())
}

/// (N, C, T) -> (N, C, T - k + 1): y[n, c, t] = max over frames t..t+k; and the argmax frame.
pub fn sliding_max(x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
    check_window("sliding_max", x, k)?;
    backend::of(x).sliding_max_forward(x, k)
}

/// (N, C, W) -> pooled (N, C) = Σ_t softmax_t(γ s) s, and the weights (N, C, W).
pub fn temporal_softmax_pool(s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)> {
    check_scores("temporal_softmax_pool", s)?;
    check_gamma("temporal_softmax_pool", gamma)?;
    backend::of(s).softmax_pool_forward(s, gamma)
}

/// Fused test-time scoring (no gradient): (N, C, L) per-frame scores -> (N, C, 4) online-softmax
/// states of the windows of `k` frames (see `Backend::window_pool_forward`).
pub fn window_pool_states(x: &Tensor, k: usize, gamma: f64) -> Result<Tensor> {
    check_window("window_pool", x, k)?;
    check_gamma("window_pool", gamma)?;
    backend::of(x).window_pool_forward(x, k, gamma)
}

impl Var {
    /// Sliding-window max over the last (time) axis with window `k`, stride 1.
    pub fn sliding_max(&self, k: usize) -> Result<Var> {
        let len = check_window("sliding_max", self.value(), k)?;
        let be = backend::of(self.value());
        let (y, argmax) = be.sliding_max_forward(self.value(), k)?;
        Ok(self.tape().record("sliding_max", y, &[self], move |gy, _| {
            Ok(vec![Some(be.sliding_max_backward(gy, &argmax, len)?)])
        }))
    }

    /// Clip score: the max over all frames per class, (N, C, T) -> (N, C).
    pub fn temporal_max(&self) -> Result<Var> {
        let t = check_scores("temporal_max", self.value())?;
        let [n, c] = [self.dims()[0], self.dims()[1]];
        self.sliding_max(t)?.reshape(&[n, c])
    }

    /// Temporal softmax pooling (paper Eq. 3) per class over the last axis: (N, C, W) -> (N, C).
    pub fn temporal_softmax_pool(&self, gamma: f64) -> Result<Var> {
        let (f, p) = temporal_softmax_pool(self.value(), gamma)?;
        let be = backend::of(self.value());
        let (s, f_val) = (self.value().clone(), f.clone());
        Ok(self.tape().record("temporal_softmax_pool", f, &[self], move |gf, _| {
            Ok(vec![Some(be.softmax_pool_backward(gf, &s, &f_val, &p, gamma)?)])
        }))
    }
}

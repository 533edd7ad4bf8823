//! The TemporalOps family of the `Backend` trait: Ops along the last (time or window) axis: sliding max, temporal softmax pooling and the fused
//! test-time scoring.
//! Each backend implements it in its own `temporal` file.

use crate::error::Result;
use crate::tensor::Tensor;

/// Values in the online-softmax state of a set of windows S (fused scoring, `window_pool_forward`):
/// anchor = the window maximising γ·S (the max for γ ≥ 0, the min for γ < 0), z = Σ e^{γ(S − anchor)},
/// n = Σ S·e^{γ(S − anchor)}, max = max S. Exponents are ≤ 0, so no γ overflows them.
pub const POOL_STATE: usize = 4;

pub trait TemporalOps {
    /// Over the last axis of x: (..., T) -> (..., T - k + 1), with u32 argmax.
    fn sliding_max_forward(&self, x: &Tensor, k: usize) -> Result<(Tensor, Tensor)>;
    /// gy, argmax: (..., W) -> (..., len).
    fn sliding_max_backward(&self, gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor>;
    /// Over the last axis of s: (..., W) -> pooled (...) and weights (..., W).
    fn softmax_pool_forward(&self, s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)>;
    fn softmax_pool_backward(&self, gf: &Tensor, s: &Tensor, f: &Tensor, p: &Tensor, gamma: f64) -> Result<Tensor>;
    /// Fused test-time scoring over the last axis of per-frame scores x: (..., L): the max over
    /// every window of k frames and temporal softmax pooling with γ in one pass that never
    /// stores the L − k + 1 window scores. Returns online-softmax states (..., POOL_STATE) over
    /// the windows; states of disjoint window sets merge exactly (`infer::pooling::PoolState`).
    fn window_pool_forward(&self, x: &Tensor, k: usize, gamma: f64) -> Result<Tensor>;
}

//! Fused window scoring (paper §3.3) on the CPU: per row of per-frame scores, one pass over the
//! windows with an online softmax (the best window so far as anchor, the sums rescaled when a
//! better one comes), rows in
//! parallel. The window scores are never stored; the reference computes them first and is the
//! oracle (`reference::temporal::window_pool_forward`).

use rayon::prelude::*;

use crate::backend::POOL_STATE;
use crate::tensor::Float;

/// The max of one window, a NaN winning as in the reference sliding max.
fn window_max<T: Float>(w: &[T]) -> T {
    w[1..].iter().fold(w[0], |best, &v| {
        if v > best || v.is_nan() && !best.is_nan() {
            v
        } else {
            best
        }
    })
}

/// x: (rows, L) -> (rows, POOL_STATE) states (see `POOL_STATE`) of the windows
/// S_t = max x[t .. t + k], t = 0..=L − k.
pub fn window_pool_forward<T: Float>(x: &[T], rows: usize, len: usize, k: usize, gamma: f64) -> Vec<T> {
    let g = T::from_f64_lossy(gamma);
    // The anchor is the max window for γ ≥ 0 and the min for γ < 0, as in the reference.
    let sign = if gamma < 0.0 { -T::one() } else { T::one() };
    let mut out = vec![T::zero(); rows * POOL_STATE];
    out.par_chunks_mut(POOL_STATE)
        .zip(x.par_chunks(len))
        .for_each(|(state, row)| {
            let (mut anchor, mut z, mut n, mut max) = (T::zero(), T::zero(), T::zero(), T::neg_infinity());
            for w in row.windows(k) {
                let s = window_max(w);
                if z == T::zero() {
                    anchor = s;
                } else if sign * (s - anchor) > T::zero() {
                    // A better window: rescale the sums to it (the factor is < 1).
                    let r = (g * (anchor - s)).exp();
                    z = z * r;
                    n = n * r;
                    anchor = s;
                }
                let e = (g * (s - anchor)).exp();
                z = z + e;
                n = n + s * e;
                max = max.max(s);
            }
            state.copy_from_slice(&[anchor, z, n, max]);
        });
    out
}

//! Fused window scoring (paper §3.3) on the CPU, rows in parallel: per row of per-frame scores,
//! the window maxima in O(L) into a per-thread scratch row, then one pass of online softmax over
//! them (the best window so far as anchor, the sums rescaled when a better one comes). No window
//! tensor is ever built; the reference computes the windows first and is the oracle
//! (`reference::temporal::window_pool_forward`).

use rayon::prelude::*;

use super::CpuFast;
use crate::backend::cpu::reference::CpuReference;
use crate::backend::cpu::rows_and_last;
use crate::backend::cpu::with_last_dim;
use crate::backend::TemporalOps;
use crate::backend::POOL_STATE;
use crate::error::Result;
use crate::tensor::Float;
use crate::tensor::Tensor;

/// The larger of two values, NaN if either is: the value the reference sliding max gives a
/// window (where a NaN wins).
#[inline(always)]
fn nan_max<T: Float>(a: T, b: T) -> T {
    if a > b || a.is_nan() {
        a
    } else {
        b
    }
}

/// The max of every window of k in `row`, in O(L) whatever k (van Herk / Gil-Werman): within
/// blocks of k, `ahead[i]` is the max from the block start to i and `behind[i]` the max from i
/// to the block end, so window t is max(behind[t], ahead[t + k − 1]). Max is exact, so the values
/// equal the direct ones.
fn window_maxima<T: Float>(row: &[T], k: usize, ahead: &mut Vec<T>, behind: &mut Vec<T>) {
    let n = row.len();
    ahead.clear();
    behind.clear();
    behind.resize(n, T::zero());
    for (i, &v) in row.iter().enumerate() {
        let prev = if i % k == 0 { v } else { nan_max(ahead[i - 1], v) };
        ahead.push(prev);
    }
    for i in (0..n).rev() {
        behind[i] = if (i + 1) % k == 0 || i + 1 == n {
            row[i]
        } else {
            nan_max(behind[i + 1], row[i])
        };
    }
    for t in 0..=n - k {
        behind[t] = nan_max(behind[t], ahead[t + k - 1]);
    }
    behind.truncate(n - k + 1);
}

/// x: (rows, L) -> (rows, POOL_STATE) states (see `POOL_STATE`) of the windows
/// S_t = max x[t .. t + k], t = 0..=L − k.
pub fn window_pool_forward<T: Float>(x: &[T], rows: usize, len: usize, k: usize, gamma: f64) -> Vec<T> {
    let g = T::from_f64_lossy(gamma);
    // The anchor is the max window for γ ≥ 0 and the min for γ < 0, as in the reference.
    let sign = if gamma < 0.0 { -T::one() } else { T::one() };
    let mut out = vec![T::zero(); rows * POOL_STATE];
    out.par_chunks_mut(POOL_STATE).zip(x.par_chunks(len)).for_each_init(
        || (Vec::new(), Vec::new()),
        |(ahead, windows), (state, row)| {
            window_maxima(row, k, ahead, windows);
            let (mut anchor, mut z, mut n, mut max) = (T::zero(), T::zero(), T::zero(), T::neg_infinity());
            for &s in windows.iter() {
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
        },
    );
    out
}

impl TemporalOps for CpuFast {
    fn sliding_max_forward(&self, x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
        CpuReference.sliding_max_forward(x, k)
    }

    fn sliding_max_backward(&self, gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor> {
        CpuReference.sliding_max_backward(gy, argmax, len)
    }

    fn softmax_pool_forward(&self, s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)> {
        CpuReference.softmax_pool_forward(s, gamma)
    }

    fn softmax_pool_backward(&self, gf: &Tensor, s: &Tensor, f: &Tensor, p: &Tensor, gamma: f64) -> Result<Tensor> {
        CpuReference.softmax_pool_backward(gf, s, f, p, gamma)
    }

    fn window_pool_forward(&self, x: &Tensor, k: usize, gamma: f64) -> Result<Tensor> {
        const OP: &str = "window_pool";
        let (rows, len) = rows_and_last(x);
        with_float!(OP, x, |T| Tensor::from_vec(
            &with_last_dim(x, POOL_STATE),
            window_pool_forward::<T>(x.as_slice(OP)?, rows, len, k, gamma)
        ))
    }
}

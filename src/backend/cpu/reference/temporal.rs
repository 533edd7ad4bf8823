//! Temporal ops over the last axis of (N, C, T) score tensors: sliding-window max and
//! temporal softmax pooling (paper Eq. 3).

use super::CpuReference;
use crate::backend::cpu::rows_and_last;
use crate::backend::cpu::with_last_dim;
use crate::backend::TemporalOps;
use crate::backend::POOL_STATE;
use crate::error::Result;
use crate::tensor::Float;
use crate::tensor::Tensor;

/// x: (rows, T) -> y: (rows, T - k + 1), y[r, t] = max_{j in t..t+k} x[r, j]; argmax holds j.
pub fn sliding_max_forward<T: Float>(x: &[T], rows: usize, len: usize, k: usize) -> (Vec<T>, Vec<u32>) {
    let windows = len - k + 1;
    let mut y = Vec::with_capacity(rows * windows);
    let mut arg = Vec::with_capacity(rows * windows);
    for r in 0..rows {
        let row = &x[r * len..(r + 1) * len];
        for t in 0..windows {
            let mut best = t;
            for j in t + 1..t + k {
                if row[j] > row[best] || row[j].is_nan() && !row[best].is_nan() {
                    best = j;
                }
            }
            y.push(row[best]);
            arg.push(best as u32);
        }
    }
    (y, arg)
}

/// gy, argmax: (rows, W) -> gx: (rows, T); overlapping windows add up.
pub fn sliding_max_backward<T: Float>(gy: &[T], argmax: &[u32], rows: usize, len: usize) -> Vec<T> {
    let windows = gy.len() / rows.max(1);
    let mut gx = vec![T::zero(); rows * len];
    for (i, (&g, &a)) in gy.iter().zip(argmax).enumerate() {
        let j = (i / windows) * len + a as usize;
        gx[j] = gx[j] + g;
    }
    gx
}

/// s: (rows, W) -> pooled f: (rows), weights p: (rows, W), with p = softmax(γ s) per row and
/// f = Σ p s. Stable for any finite γ: the exponent is γ·(s − s*) with s* the row's largest
/// score (smallest for γ < 0), which is ≤ 0 and never overflows even when γ·s would.
pub fn softmax_pool_forward<T: Float>(s: &[T], rows: usize, windows: usize, gamma: f64) -> (Vec<T>, Vec<T>) {
    let gamma = T::from_f64_lossy(gamma);
    let mut pooled = Vec::with_capacity(rows);
    let mut weights = Vec::with_capacity(rows * windows);
    for row in s.chunks(windows).take(rows) {
        let anchor = if gamma >= T::zero() {
            row.iter().copied().fold(T::neg_infinity(), T::max)
        } else {
            row.iter().copied().fold(T::infinity(), T::min)
        };
        let start = weights.len();
        weights.extend(row.iter().map(|&v| (gamma * (v - anchor)).exp()));
        let total: T = weights[start..].iter().copied().sum();
        let mut f = T::zero();
        for (p, &v) in weights[start..].iter_mut().zip(row) {
            *p = *p / total;
            f = f + *p * v;
        }
        pooled.push(f);
    }
    (pooled, weights)
}

/// ∂f/∂s_j = p_j (1 + γ (s_j − f)), times the upstream gradient of f.
pub fn softmax_pool_backward<T: Float>(gf: &[T], s: &[T], f: &[T], p: &[T], windows: usize, gamma: f64) -> Vec<T> {
    let gamma = T::from_f64_lossy(gamma);
    s.iter()
        .zip(p)
        .enumerate()
        .map(|(i, (&sj, &pj))| {
            let r = i / windows;
            gf[r] * pj * (T::one() + gamma * (sj - f[r]))
        })
        .collect()
}

/// x: (rows, L) per-frame scores -> (rows, POOL_STATE) states of the windows S_t = max of
/// x[t .. t + k], t = 0..=L − k. Written the plain way (window scores first, then the sums) as
/// the oracle of the fused single-pass versions.
pub fn window_pool_forward<T: Float>(x: &[T], rows: usize, len: usize, k: usize, gamma: f64) -> Vec<T> {
    let (s, _) = sliding_max_forward(x, rows, len, k);
    let g = T::from_f64_lossy(gamma);
    let mut states = Vec::with_capacity(rows * POOL_STATE);
    for row in s.chunks(len - k + 1).take(rows) {
        let max = row.iter().copied().fold(T::neg_infinity(), T::max);
        let anchor = if g >= T::zero() {
            max
        } else {
            row.iter().copied().fold(T::infinity(), T::min)
        };
        let z: T = row.iter().map(|&v| (g * (v - anchor)).exp()).sum();
        let n: T = row.iter().map(|&v| v * (g * (v - anchor)).exp()).sum();
        states.extend([anchor, z, n, max]);
    }
    states
}

impl TemporalOps for CpuReference {
    fn sliding_max_forward(&self, x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
        const OP: &str = "sliding_max";
        let (rows, len) = rows_and_last(x);
        let dims = with_last_dim(x, len - k + 1);
        with_float!(OP, x, |T| {
            let (y, arg) = sliding_max_forward::<T>(x.as_slice(OP)?, rows, len, k);
            Ok((Tensor::from_vec(&dims, y)?, Tensor::from_vec(&dims, arg)?))
        })
    }

    fn sliding_max_backward(&self, gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor> {
        const OP: &str = "sliding_max_backward";
        let (rows, _) = rows_and_last(gy);
        with_float!(OP, gy, |T| Tensor::from_vec(
            &with_last_dim(gy, len),
            sliding_max_backward::<T>(gy.as_slice(OP)?, argmax.as_slice(OP)?, rows, len)
        ))
    }

    fn softmax_pool_forward(&self, s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)> {
        const OP: &str = "temporal_softmax_pool";
        let (rows, windows) = rows_and_last(s);
        let pooled_dims = &s.dims()[..s.rank() - 1];
        with_float!(OP, s, |T| {
            let (f, p) = softmax_pool_forward::<T>(s.as_slice(OP)?, rows, windows, gamma);
            Ok((Tensor::from_vec(pooled_dims, f)?, Tensor::from_vec(s.dims(), p)?))
        })
    }

    fn softmax_pool_backward(&self, gf: &Tensor, s: &Tensor, f: &Tensor, p: &Tensor, gamma: f64) -> Result<Tensor> {
        const OP: &str = "temporal_softmax_pool_backward";
        let (_, windows) = rows_and_last(s);
        with_float!(OP, s, |T| Tensor::from_vec(
            s.dims(),
            softmax_pool_backward::<T>(
                gf.as_slice(OP)?,
                s.as_slice(OP)?,
                f.as_slice(OP)?,
                p.as_slice(OP)?,
                windows,
                gamma
            )
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_gamma_picks_the_max_without_overflow() {
        // γ·s = 1e309 overflows f64, but γ·(s − max) does not: the pooled value is the max.
        let s = [1e3f64, -1e3, 999.0];
        let (f, p) = softmax_pool_forward(&s, 1, 3, 1e306);
        assert_eq!(f, vec![1e3]);
        assert_eq!(p, vec![1.0, 0.0, 0.0]);
        // Negative γ pools towards the min.
        let (f, _) = softmax_pool_forward(&s, 1, 3, -1e306);
        assert_eq!(f, vec![-1e3]);
    }
}

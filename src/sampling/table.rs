//! Pieces shared by every sampler: the number of clip starts of a video, the temporal softmax of
//! paper Eq. 6, and drawing from a categorical distribution with our own (stable) inverse CDF.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Number of clip starts N = max(1, L − F + 1) of a video of `len` frames with clips of `clip_len`
/// frames (notes §0). A video no longer than a clip has the single start 0 and is padded.
pub(crate) fn num_starts(len: usize, clip_len: usize) -> usize {
    if len <= clip_len {
        1
    } else {
        len - clip_len + 1
    }
}

/// The uniform distribution over `n` starts.
pub(crate) fn uniform(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}

/// P(t) = exp(γ w_t) / Σ exp(γ w_t') (paper Eq. 6; notes §1: plain logits, no ε-mixing, no
/// centring). Computed stably by subtracting the largest logit, so γ = 0 gives exactly 1/N.
///
/// When γ·w overflows f64 (only for absurd γ) the limit γ → ∞ is returned: uniform over the
/// arg-max of `w`. `w` must be finite and non-empty (the sampler keeps it so).
pub(crate) fn softmax(gamma: f64, w: &[f32]) -> Vec<f64> {
    let logits: Vec<f64> = w.iter().map(|&x| gamma * x as f64).collect();
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let wmax = w.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let hits: Vec<bool> = w.iter().map(|&x| x == wmax).collect();
        let count = hits.iter().filter(|&&h| h).count() as f64;
        return hits.iter().map(|&h| if h { 1.0 / count } else { 0.0 }).collect();
    }
    let exps: Vec<f64> = logits.iter().map(|&z| (z - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|&e| e / sum).collect()
}

/// One draw from the categorical distribution `p` (non-negative, summing to about 1) using exactly
/// one `f64` from `rng`: the first index whose cumulative mass exceeds u·Σp. Rounding can leave u·Σp
/// at or past the last cumulative sum; then the last index with positive mass is returned, so an
/// index of zero probability is never picked.
pub(crate) fn sample_categorical(p: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = p.iter().sum();
    let target = rng.gen::<f64>() * total;
    let mut cumulative = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        cumulative += pi;
        if pi > 0.0 && target < cumulative {
            return i;
        }
    }
    p.iter().rposition(|&pi| pi > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn num_starts_matches_max_1_l_minus_f_plus_1() {
        assert_eq!(num_starts(150, 16), 135);
        assert_eq!(num_starts(31, 16), 16);
        assert_eq!(num_starts(17, 16), 2);
        assert_eq!(num_starts(16, 16), 1);
        assert_eq!(num_starts(3, 16), 1);
        assert_eq!(num_starts(1, 1), 1);
        assert_eq!(num_starts(5, 1), 5);
    }

    #[test]
    fn gamma_zero_is_exactly_uniform() {
        let p = softmax(0.0, &[3.0, -7.5, 100.0, 0.25, 1e30]);
        assert!(p.iter().all(|&x| x == 0.2), "{p:?}");
    }

    #[test]
    fn softmax_hand_worked() {
        // w = (0, ln 3): weights 1 and 3 → 1/4, 3/4. With γ = 2: 1 and 9 → 0.1, 0.9.
        let ln3 = 3f64.ln() as f32;
        let p = softmax(1.0, &[0.0, ln3]);
        assert!((p[0] - 0.25).abs() < 1e-7 && (p[1] - 0.75).abs() < 1e-7, "{p:?}");
        let p = softmax(2.0, &[0.0, ln3]);
        assert!((p[0] - 0.1).abs() < 1e-7 && (p[1] - 0.9).abs() < 1e-7, "{p:?}");
    }

    #[test]
    fn softmax_is_stable_for_large_logits_and_shift_invariant() {
        let a = softmax(1.0, &[1000.0, 1001.0, 999.0]);
        let b = softmax(1.0, &[0.0, 1.0, -1.0]);
        for (x, y) in a.iter().zip(&b) {
            assert!(x.is_finite() && (x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn softmax_overflow_falls_back_to_the_argmax_limit() {
        let p = softmax(1e300, &[1e30, 3e30, 3e30, -1e30]);
        assert_eq!(p, vec![0.0, 0.5, 0.5, 0.0]);
        let p = softmax(1e300, &[-1e30, -3e30]);
        assert_eq!(p, vec![1.0, 0.0]);
    }

    #[test]
    fn categorical_never_picks_zero_mass_and_follows_the_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let p = [0.0, 0.25, 0.0, 0.75, 0.0];
        let mut counts = [0usize; 5];
        for _ in 0..4000 {
            counts[sample_categorical(&p, &mut rng)] += 1;
        }
        assert_eq!(counts[0] + counts[2] + counts[4], 0, "{counts:?}");
        // Expected 1000 / 3000; the binomial sd is about 27.
        assert!((counts[1] as i64 - 1000).abs() < 150, "{counts:?}");
    }

    #[test]
    fn categorical_with_mass_short_of_one_still_returns_a_positive_index() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for _ in 0..100 {
            let i = sample_categorical(&[0.3, 0.0, 0.3, 0.0], &mut rng);
            assert!(i == 0 || i == 2);
        }
    }
}

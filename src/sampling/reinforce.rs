//! The REINFORCE baseline sampler (paper §3.2, Eq. 5). The reference code has none (notes §7), so
//! this is our reading of the paper, with the choices written down here.
//!
//! Per video a logit table q; the policy is π = softmax(γ q) (same Eq. 6 as the softmax sampler).
//! Eq. 5 gives ∇_q E_{t∼π}[L_t] = E[L_t ∇_q log π_t], and ∂ log π_t / ∂q_j = γ (δ_jt − π_j). With
//! reward r = −loss and a baseline b, one stochastic gradient-descent step on the expected loss is
//!
//!   q_j ← q_j + lr · (r − b) · γ · (δ_jt − π_j),      π = softmax(γ q) as it was at draw time.
//!
//! Baseline (one per video, a moving average of its rewards): the advantage uses the baseline
//! *before* this reward is folded in, so b does not depend on the current draw and the estimate
//! stays unbiased; then b ← decay·b + (1 − decay)·r. A video's first update has no baseline yet: it
//! sets b = r and leaves q unchanged (advantage 0), rather than treating b = 0, which would push
//! every first sample away (r = −loss < 0 always). Warm-up touches neither q nor b.

use crate::sampling::table::softmax;

/// One REINFORCE step on `q` for the clip at `start` that had cross-entropy `loss` (finite).
/// q is unchanged between a draw and its record (only records write it), so recomputing π from q
/// here gives exactly the draw-time distribution.
pub(crate) fn reinforce_update(
    q: &mut [f32],
    baseline: &mut Option<f32>,
    start: usize,
    loss: f32,
    gamma: f64,
    lr: f64,
    decay: f64,
) {
    let reward = -(loss as f64);
    let Some(b) = baseline.map(f64::from) else {
        *baseline = Some(reward as f32);
        return;
    };
    let advantage = reward - b;
    let pi = softmax(gamma, q);
    for (j, (qj, pj)) in q.iter_mut().zip(&pi).enumerate() {
        let indicator = if j == start { 1.0 } else { 0.0 };
        let new = *qj as f64 + lr * advantage * gamma * (indicator - pj);
        // A runaway step (huge lr·γ) must not leave a non-finite logit in the table.
        if new.is_finite() && new.abs() <= f32::MAX as f64 {
            *qj = new as f32;
        }
    }
    *baseline = Some((decay * b + (1.0 - decay) * reward) as f32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_update_only_sets_the_baseline() {
        let mut q = vec![0.0f32; 3];
        let mut b = None;
        reinforce_update(&mut q, &mut b, 1, 2.0, 1.0, 0.5, 0.9);
        assert_eq!(q, vec![0.0; 3]);
        assert_eq!(b, Some(-2.0));
    }

    #[test]
    fn one_update_by_hand() {
        // q = (0, 0), γ = 1 → π = (½, ½). Baseline −2, loss 1 at t = 0: r = −1, advantage +1.
        // q0 += 0.5·1·1·(1 − ½) = 0.25; q1 += 0.5·1·1·(0 − ½) = −0.25; b = 0.9·(−2) + 0.1·(−1) = −1.9.
        let mut q = vec![0.0f32; 2];
        let mut b = Some(-2.0);
        reinforce_update(&mut q, &mut b, 0, 1.0, 1.0, 0.5, 0.9);
        assert_eq!(q, vec![0.25, -0.25]);
        assert_eq!(b, Some(-1.9f64 as f32));
    }

    #[test]
    fn update_with_gamma_two_and_uneven_policy() {
        // q = (0, ln 3 / 2), γ = 2 → π = (¼, ¾). b = −1, loss 3 at t = 1: advantage −2.
        // q0 += 0.1·(−2)·2·(0 − ¼) = +0.1; q1 += 0.1·(−2)·2·(1 − ¾) = −0.1; b = ½·(−1) + ½·(−3) = −2.
        let h = (3f64.ln() / 2.0) as f32;
        let mut q = vec![0.0f32, h];
        let mut b = Some(-1.0);
        reinforce_update(&mut q, &mut b, 1, 3.0, 2.0, 0.1, 0.5);
        assert!((q[0] - 0.1).abs() < 1e-6, "{q:?}");
        assert!((q[1] - (h - 0.1)).abs() < 1e-6, "{q:?}");
        assert_eq!(b, Some(-2.0));
    }

    #[test]
    fn the_logits_keep_summing_to_zero() {
        // Σ_j (δ_jt − π_j) = 0, so every step preserves Σ q (a check on the sign bookkeeping).
        let mut q = vec![0.0f32; 5];
        let mut b = Some(-1.0);
        for (step, loss) in [0.5f32, 2.0, 0.1, 1.2, 3.0].into_iter().enumerate() {
            reinforce_update(&mut q, &mut b, step % 5, loss, 1.0, 0.3, 0.9);
        }
        assert!(q.iter().sum::<f32>().abs() < 1e-5, "{q:?}");
    }

    #[test]
    fn single_start_videos_never_move() {
        let mut q = vec![0.0f32];
        let mut b = Some(-5.0);
        reinforce_update(&mut q, &mut b, 0, 0.1, 1.0, 10.0, 0.9);
        assert_eq!(q, vec![0.0]);
    }
}

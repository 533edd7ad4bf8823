//! The stochastic softmax sampler's two update rules on the score table w (reference notes §1–§2):
//! deterministic exploration with hard-overwrite plateaus, then exploitation with a triangular,
//! overlap-weighted running estimate. Sampling itself is `table::softmax` (paper Eq. 6).
//!
//! All arithmetic on w is done in f64 and rounded to f32 once, as the reference does (Python floats
//! written into a float32 shared array).

/// The start of exploration slot `k` (0 ≤ k < E) in a video with `n` starts: ⌊(N−1)·k/(E−1)⌋
/// (notes §1: truncating division, so the slots run evenly from the first clip to the last).
/// Needs E ≥ 2 (the sampler's config check guarantees it; the reference would divide by zero).
pub(crate) fn slot_start(n: usize, k: usize, exploration_epochs: usize) -> usize {
    debug_assert!(exploration_epochs >= 2 && k < exploration_epochs && n >= 1);
    // u128: (N−1)·k cannot overflow whatever the sizes.
    ((n as u128 - 1) * k as u128 / (exploration_epochs as u128 - 1)) as usize
}

/// All E slot starts of a video, in slot order (they repeat when N < E, e.g. N=2 → 0,0,0,0,1).
#[cfg(test)]
pub(crate) fn slot_starts(n: usize, exploration_epochs: usize) -> Vec<usize> {
    (0..exploration_epochs)
        .map(|k| slot_start(n, k, exploration_epochs))
        .collect()
}

/// Half-width of an exploration plateau: prop = ⌈max(0, N−E)/(E−1)/2⌉ (notes §2), computed in
/// integers as ⌈a / 2b⌉ with a = max(0, N−E), b = E−1.
pub(crate) fn plateau_half_width(n: usize, exploration_epochs: usize) -> usize {
    let a = n.saturating_sub(exploration_epochs) as u128;
    let b2 = 2 * (exploration_epochs as u128 - 1);
    a.div_ceil(b2) as usize
}

/// Exploration update (notes §2): w is still uninitialised, so the explored score is copied, with
/// no averaging, onto every i in [max(0, t−prop), min(N−1, t+prop)]. Together the E plateaus fill
/// the whole table (a nearest-explored-neighbour fill); where they overlap the later visit wins.
pub(crate) fn explore_update(w: &mut [f32], start: usize, score: f32, exploration_epochs: usize) {
    let n = w.len();
    let prop = plateau_half_width(n, exploration_epochs);
    let lo = start.saturating_sub(prop);
    let hi = start.saturating_add(prop).min(n - 1);
    for wi in &mut w[lo..=hi] {
        *wi = score;
    }
}

/// Exploitation update (notes §2): w_i ← w_i + α_i (s − w_i) with α_i = (F − |t − i|)/F for
/// |t − i| < F, the fraction of frames clip i shares with the sampled clip t. α = 1 at i = t (full
/// overwrite, no momentum); the reach is ±(F−1) (the reference's d = F term has α = 0).
pub(crate) fn exploit_update(w: &mut [f32], start: usize, score: f32, clip_len: usize) {
    let n = w.len();
    let reach = clip_len - 1;
    let lo = start.saturating_sub(reach);
    let hi = start.saturating_add(reach).min(n - 1);
    let f = clip_len as f64;
    for (i, wi) in w.iter_mut().enumerate().take(hi + 1).skip(lo) {
        let alpha = (f - start.abs_diff(i) as f64) / f;
        let old = *wi as f64;
        *wi = (old + alpha * (score as f64 - old)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_prop_for_len_150() {
        // Notes §2: len=150 → N=135, slots {0,33,67,100,134}, prop=17.
        assert_eq!(slot_starts(135, 5), vec![0, 33, 67, 100, 134]);
        assert_eq!(plateau_half_width(135, 5), 17);
    }

    #[test]
    fn slots_and_prop_for_len_31() {
        // Notes §2: len=31 → N=16, slots {0,3,7,11,15}, prop=2.
        assert_eq!(slot_starts(16, 5), vec![0, 3, 7, 11, 15]);
        assert_eq!(plateau_half_width(16, 5), 2);
    }

    #[test]
    fn slots_repeat_and_prop_is_zero_for_tiny_videos() {
        // Notes §2: len 17–20 → N ≤ 5, prop 0; N=2 gives {0,0,0,0,1}.
        assert_eq!(slot_starts(2, 5), vec![0, 0, 0, 0, 1]);
        for n in 1..=5 {
            assert_eq!(plateau_half_width(n, 5), 0, "N={n}");
        }
        assert_eq!(slot_starts(1, 5), vec![0; 5]);
        // E = 2: the two ends.
        assert_eq!(slot_starts(10, 2), vec![0, 9]);
        assert_eq!(plateau_half_width(10, 2), 4);
    }

    #[test]
    fn explore_update_overwrites_a_clipped_plateau() {
        // N=16, E=5, prop=2: slot 3 writes 1..=5; slot 0 writes 0..=2; slot 15 writes 13..=15.
        let mut w = vec![-1.0f32; 16];
        explore_update(&mut w, 3, 4.5, 5);
        assert_eq!(&w[..7], &[-1.0, 4.5, 4.5, 4.5, 4.5, 4.5, -1.0]);
        explore_update(&mut w, 0, 2.0, 5);
        assert_eq!(&w[..7], &[2.0, 2.0, 2.0, 4.5, 4.5, 4.5, -1.0]);
        explore_update(&mut w, 15, 7.0, 5);
        assert_eq!(&w[12..], &[-1.0, 7.0, 7.0, 7.0]);
        // prop 0 touches one entry; N=1 (short video) updates index 0.
        let mut w = vec![0.0f32; 2];
        explore_update(&mut w, 1, 3.0, 5);
        assert_eq!(w, vec![0.0, 3.0]);
        let mut w = vec![0.0f32; 1];
        explore_update(&mut w, 0, -2.0, 5);
        assert_eq!(w, vec![-2.0]);
    }

    #[test]
    fn all_slots_cover_every_start() {
        // Notes §2 claim the five plateaus cover all N positions for len 17..1199. Checked here for
        // E = 2..=10 and N = 1..=1500 (len up to 1515 with F = 16).
        for e in 2..=10 {
            for n in 1..=1500 {
                let mut w = vec![f32::NAN; n];
                for (k, t) in slot_starts(n, e).into_iter().enumerate() {
                    explore_update(&mut w, t, k as f32, e);
                }
                assert!(w.iter().all(|x| !x.is_nan()), "E={e} N={n}: {w:?}");
            }
        }
    }

    #[test]
    fn exploit_update_triangle_hand_worked() {
        // F = 4, s = 8 on zeros: α = 1, 3/4, 1/2, 1/4 at distance 0..3, nothing at distance 4.
        let mut w = vec![0.0f32; 11];
        exploit_update(&mut w, 5, 8.0, 4);
        assert_eq!(w, vec![0.0, 0.0, 2.0, 4.0, 6.0, 8.0, 6.0, 4.0, 2.0, 0.0, 0.0]);
        // Blending: w = 4 everywhere, s = 0 → 4 − α·4.
        let mut w = vec![4.0f32; 6];
        exploit_update(&mut w, 1, 0.0, 4);
        assert_eq!(w, vec![1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn exploit_update_full_overwrite_at_t_and_reach_f_minus_1_for_f16() {
        let mut w = vec![1.0f32; 40];
        exploit_update(&mut w, 20, 17.0, 16);
        assert_eq!(w[20], 17.0);
        assert_eq!(w[20 - 15], 1.0 + 16.0 / 16.0); // α = 1/16 at d = 15
        assert_eq!(w[20 + 15], 2.0);
        assert_eq!(w[20 - 16], 1.0); // d = 16: α = 0
        assert_eq!(w[36], 1.0);
        assert_eq!(w[21], 1.0 + 16.0 * 15.0 / 16.0);
    }

    #[test]
    fn exploit_update_on_short_and_edge_tables() {
        let mut w = vec![5.0f32];
        exploit_update(&mut w, 0, -3.0, 16);
        assert_eq!(w, vec![-3.0]);
        // F = 1: only the sampled entry moves.
        let mut w = vec![0.0f32; 3];
        exploit_update(&mut w, 2, 1.5, 1);
        assert_eq!(w, vec![0.0, 0.0, 1.5]);
    }
}

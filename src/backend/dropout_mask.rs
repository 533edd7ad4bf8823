//! The dropout mask, a contract between every backend and `kernels/elementwise.cu`: element i
//! is kept iff 24 bits of splitmix64(seed, i) reach a threshold. The mask is a pure function of
//! (seed, index), so the backward recomputes it, runs are reproducible for any thread count, and
//! a GPU kernel using the same integer hash draws the identical mask.

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 24 uniform random bits for element `index` under `seed`.
pub fn mask_bits(seed: u64, index: u64) -> u32 {
    (splitmix64(seed ^ splitmix64(index)) >> 40) as u32
}

/// Elements whose bits fall below this are dropped: round(p · 2²⁴).
pub fn drop_threshold(p: f64) -> u32 {
    (p * (1u64 << 24) as f64).round() as u32
}

pub fn keep_element(seed: u64, index: u64, p: f64) -> bool {
    mask_bits(seed, index) >= drop_threshold(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_rate_matches_p() {
        for p in [0.1, 0.5, 0.9] {
            let kept = (0..100_000u64).filter(|&i| keep_element(7, i, p)).count() as f64 / 100_000.0;
            assert!((kept - (1.0 - p)).abs() < 0.01, "p={p}: kept {kept}");
        }
    }

    #[test]
    fn masks_differ_between_seeds_and_repeat_within_one() {
        let a: Vec<bool> = (0..64).map(|i| keep_element(1, i, 0.5)).collect();
        let b: Vec<bool> = (0..64).map(|i| keep_element(2, i, 0.5)).collect();
        assert_ne!(a, b);
        assert_eq!(a, (0..64).map(|i| keep_element(1, i, 0.5)).collect::<Vec<_>>());
    }
}

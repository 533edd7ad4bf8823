//! Inverted dropout with a counter-based mask: element i is kept iff 24 bits of
//! splitmix64(seed, i) reach a threshold. The mask is a pure function of (seed, index), so
//! the backward recomputes it, runs are reproducible for any thread count, and a GPU kernel
//! using the same integer hash draws the identical mask.

use crate::autograd::Var;
use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

const OP: &str = "dropout";

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

fn check(x: &Tensor, p: f64) -> Result<()> {
    x.expect_float(OP, "input")?;
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::argument(OP, format!("probability p = {p} must be in [0, 1]")));
    }
    Ok(())
}

/// Training-mode dropout of `x` with drop probability `p` and mask seed `seed`.
pub fn dropout(x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
    check(x, p)?;
    backend::of(x).dropout(x, p, seed)
}

impl Var {
    /// Dropout when `training`, the identity otherwise.
    pub fn dropout(&self, p: f64, seed: u64, training: bool) -> Result<Var> {
        check(self.value(), p)?;
        if !training || p == 0.0 {
            return Ok(self.clone());
        }
        let be = backend::of(self.value());
        let y = be.dropout(self.value(), p, seed)?;
        Ok(self
            .tape()
            .record(OP, y, &[self], move |gy, _| Ok(vec![Some(be.dropout(gy, p, seed)?)])))
    }
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

    #[test]
    fn p_outside_unit_interval_is_rejected() {
        let x = Tensor::from_vec(&[2], vec![1f32, 2.0]).unwrap();
        assert!(dropout(&x, 1.5, 0).unwrap_err().to_string().contains("[0, 1]"));
    }
}

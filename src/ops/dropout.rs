//! Inverted dropout with a counter-based mask (`backend::dropout_mask`): a pure function of
//! (seed, index), so the backward recomputes it and runs are reproducible for any thread count.

use crate::autograd::Var;
use crate::backend;
pub use crate::backend::dropout_mask::{drop_threshold, keep_element, mask_bits};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

const OP: &str = "dropout";

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
    fn p_outside_unit_interval_is_rejected() {
        let x = Tensor::from_vec(&[2], vec![1f32, 2.0]).unwrap();
        assert!(dropout(&x, 1.5, 0).unwrap_err().to_string().contains("[0, 1]"));
    }
}

//! Temporal pooling of window scores (paper Eq. 3) in its online form: a `PoolState` summarises
//! any set of windows in four numbers, states of disjoint window sets merge exactly, and the
//! pooled score is read off at the end. This is what lets long videos be scored chunk by chunk
//! without keeping their window scores.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::backend::POOL_STATE;
use crate::error::{Error, Result};

/// The largest finite γ taken anywhere. γ·S is computed on f32 scores: far beyond this, it
/// overflows for ordinary logits and the scores turn to NaN; at this size softmax pooling already
/// equals max pooling (`--pool max`) for any scores that differ by more than 1e-5.
pub const MAX_GAMMA: f64 = 1e6;

/// The range check of every γ the engine takes (sampling and pooling): finite, in [0, MAX_GAMMA].
pub fn check_gamma(what: &'static str, gamma: f64) -> Result<()> {
    if gamma.is_finite() && (0.0..=MAX_GAMMA).contains(&gamma) {
        return Ok(());
    }
    Err(Error::argument(
        what,
        format!(
            "gamma = {gamma} is out of range: it must be in [0, {MAX_GAMMA:e}] (0 is mean pooling; \
             for the γ → ∞ limit use max pooling)"
        ),
    ))
}

/// How a class's window scores become one video score.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Pooling {
    /// Σ softmax(γ S) S; γ = 0 is the mean of the windows, γ → ∞ approaches the max.
    Softmax { gamma: f64 },
    /// The best window.
    Max,
}

impl Pooling {
    /// `softmax` with `gamma`, `mean` (γ = 0), or `max`; an infinite γ means max pooling.
    pub fn parse(mode: &str, gamma: f64) -> Result<Pooling> {
        match mode {
            "softmax" => Pooling::from_gamma(gamma),
            "mean" | "average" => Ok(Pooling::Softmax { gamma: 0.0 }),
            "max" => Ok(Pooling::Max),
            other => Err(Error::argument(
                "--pool",
                format!("unknown pooling {other:?}; expected softmax, mean or max"),
            )),
        }
    }

    /// Softmax pooling with γ, where γ = +∞ is max pooling (its limit). γ must lie in
    /// [0, MAX_GAMMA] (see `check_gamma`) or be +∞.
    pub fn from_gamma(gamma: f64) -> Result<Pooling> {
        if gamma == f64::INFINITY {
            Ok(Pooling::Max)
        } else {
            check_gamma("pooling", gamma)?;
            Ok(Pooling::Softmax { gamma })
        }
    }

    /// The γ the fused kernels run with (max pooling reads the state's max and ignores the rest).
    pub fn kernel_gamma(&self) -> f64 {
        match *self {
            Pooling::Softmax { gamma } => gamma,
            Pooling::Max => 0.0,
        }
    }

    /// The pooling weights of one class's window scores (they sum to 1; ties at the max share).
    pub fn weights(&self, scores: &[f64]) -> Vec<f64> {
        let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let raw: Vec<f64> = match *self {
            Pooling::Softmax { gamma } => {
                let anchor = scores.iter().map(|&s| gamma * s).fold(f64::NEG_INFINITY, f64::max);
                scores.iter().map(|&s| (gamma * s - anchor).exp()).collect()
            }
            Pooling::Max => scores.iter().map(|&s| f64::from(u8::from(s == top))).collect(),
        };
        let total: f64 = raw.iter().sum();
        raw.iter().map(|w| w / total).collect()
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pooling::Softmax { gamma } if *gamma == 0.0 => write!(f, "mean"),
            Pooling::Softmax { gamma } => write!(f, "softmax γ={gamma}"),
            Pooling::Max => write!(f, "max"),
        }
    }
}

/// The online-softmax summary of a set of window scores S under one γ (the layout of
/// `Backend::window_pool_forward`): anchor = the window maximising γ·S (the max for γ = 0), z = Σ e^{γ(S − anchor)},
/// n = Σ S·e^{γ(S − anchor)}, max = max S. Every exponent is ≤ 0, so no γ overflows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolState {
    pub anchor: f64,
    pub z: f64,
    pub n: f64,
    pub max: f64,
}

impl PoolState {
    /// No windows yet.
    pub const EMPTY: PoolState = PoolState {
        anchor: 0.0,
        z: 0.0,
        n: 0.0,
        max: f64::NEG_INFINITY,
    };

    /// States of consecutive rows of a (..., POOL_STATE) tensor's values.
    pub fn from_rows(values: &[f64]) -> Vec<PoolState> {
        values
            .chunks(POOL_STATE)
            .map(|v| PoolState {
                anchor: v[0],
                z: v[1],
                n: v[2],
                max: v[3],
            })
            .collect()
    }

    /// The state of the union of two disjoint window sets, both computed with `gamma`: the sums
    /// rescaled to the better anchor.
    pub fn merge(self, other: PoolState, gamma: f64) -> PoolState {
        if self.z == 0.0 {
            return other;
        }
        if other.z == 0.0 {
            return self;
        }
        let sign = if gamma < 0.0 { -1.0 } else { 1.0 };
        let anchor = if sign * (other.anchor - self.anchor) > 0.0 {
            other.anchor
        } else {
            self.anchor
        };
        let (a, b) = (
            (gamma * (self.anchor - anchor)).exp(),
            (gamma * (other.anchor - anchor)).exp(),
        );
        PoolState {
            anchor,
            z: self.z * a + other.z * b,
            n: self.n * a + other.n * b,
            max: self.max.max(other.max),
        }
    }

    /// The pooled score; NaN for a state without windows.
    pub fn pooled(&self, pooling: Pooling) -> f64 {
        match pooling {
            Pooling::Softmax { .. } => self.n / self.z,
            Pooling::Max if self.z == 0.0 => f64::NAN,
            Pooling::Max => self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state of `scores` under γ, written from the definition.
    fn state_of(scores: &[f64], gamma: f64) -> PoolState {
        let sign = if gamma < 0.0 { -1.0 } else { 1.0 };
        let Some(&anchor) = scores.iter().max_by(|a, b| (sign * *a).total_cmp(&(sign * *b))) else {
            return PoolState::EMPTY;
        };
        PoolState {
            anchor,
            z: scores.iter().map(|s| (gamma * (s - anchor)).exp()).sum(),
            n: scores.iter().map(|s| s * (gamma * (s - anchor)).exp()).sum(),
            max: scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }

    #[test]
    fn pooled_scores_by_hand() {
        // S = (0, ln 3), γ = 1: weights (1/4, 3/4), pooled 3/4 ln 3; mean ln 3 / 2; max ln 3.
        let s = [0.0, 3f64.ln()];
        let softmax = state_of(&s, 1.0).pooled(Pooling::Softmax { gamma: 1.0 });
        assert!((softmax - 0.75 * 3f64.ln()).abs() < 1e-15);
        assert!((state_of(&s, 0.0).pooled(Pooling::Softmax { gamma: 0.0 }) - 3f64.ln() / 2.0).abs() < 1e-15);
        assert_eq!(state_of(&s, 0.0).pooled(Pooling::Max), 3f64.ln());
        let w = Pooling::Softmax { gamma: 1.0 }.weights(&s);
        assert!((w[0] - 0.25).abs() < 1e-15 && (w[1] - 0.75).abs() < 1e-15);
        assert_eq!(Pooling::Max.weights(&[2.0, 1.0, 2.0]), vec![0.5, 0.0, 0.5]);
    }

    #[test]
    fn merging_split_states_equals_the_whole() {
        let s = [0.3, -1.2, 2.5, 2.5, 0.0, -7.0, 1.1];
        for gamma in [0.0, 0.5, 1.0, 10.0, -2.0, 1e300] {
            let whole = state_of(&s, gamma);
            for cut in 0..=s.len() {
                let merged = state_of(&s[..cut], gamma).merge(state_of(&s[cut..], gamma), gamma);
                let p = Pooling::Softmax { gamma };
                assert!(
                    (merged.pooled(p) - whole.pooled(p)).abs() < 1e-12,
                    "γ {gamma} cut {cut}: {merged:?} vs {whole:?}"
                );
                assert_eq!(merged.max, whole.max);
            }
        }
        let empty = PoolState::EMPTY.merge(PoolState::EMPTY, 1.0);
        assert!(empty.pooled(Pooling::Max).is_nan() && empty.pooled(Pooling::Softmax { gamma: 1.0 }).is_nan());
    }

    #[test]
    fn parse_names_the_modes() {
        assert_eq!(Pooling::parse("mean", 5.0).unwrap(), Pooling::Softmax { gamma: 0.0 });
        assert_eq!(Pooling::parse("softmax", f64::INFINITY).unwrap(), Pooling::Max);
        assert_eq!(Pooling::parse("max", 1.0).unwrap(), Pooling::Max);
        let err = Pooling::parse("median", 1.0).unwrap_err().to_string();
        assert!(err.contains("--pool") && err.contains("median"), "{err}");
        assert!(Pooling::from_gamma(f64::NAN).is_err());
    }
}

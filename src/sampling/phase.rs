//! The training-phase schedule (paper §3.3 "Training phases"; reference notes §3).
//!
//! Epochs are numbered from 1, as in the reference trainer. Epoch 0 (or anything before the first
//! training epoch, e.g. the reference's "epoch -1" validation pass) is reported as warm-up.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which rule picks (and updates) clip starts in a given epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Uniform clip start, no score updates (notes §3: epochs 1..=3 by default).
    WarmUp,
    /// Softmax sampler only: each of E evenly spaced slots once, hard-overwrite plateaus (notes §1, §2).
    Exploration,
    /// Sampling from the learned distribution with running updates (softmax or REINFORCE). The
    /// uniform sampler also reports this after its warm-up, although it keeps sampling uniformly.
    Exploitation,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::WarmUp => "warm-up",
            Phase::Exploration => "exploration",
            Phase::Exploitation => "exploitation",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The phase of `epoch` given the warm-up length and the exploration length (`None` for the
/// samplers that do not explore: uniform and REINFORCE go straight from warm-up to exploitation).
pub(crate) fn phase_at(epoch: usize, warmup_epochs: usize, exploration_epochs: Option<usize>) -> Phase {
    if epoch <= warmup_epochs {
        return Phase::WarmUp;
    }
    match exploration_epochs {
        Some(e) if epoch <= warmup_epochs.saturating_add(e) => Phase::Exploration,
        _ => Phase::Exploitation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_schedule_3_warmup_5_exploration() {
        // Notes §3: epochs 1–3 warm-up, 4–8 exploration, 9 onward stochastic softmax.
        let phases: Vec<Phase> = (1..=10).map(|e| phase_at(e, 3, Some(5))).collect();
        use Phase::*;
        assert_eq!(
            phases,
            [
                WarmUp,
                WarmUp,
                WarmUp,
                Exploration,
                Exploration,
                Exploration,
                Exploration,
                Exploration,
                Exploitation,
                Exploitation
            ]
        );
    }

    #[test]
    fn no_exploration_goes_from_warmup_to_exploitation() {
        assert_eq!(phase_at(3, 3, None), Phase::WarmUp);
        assert_eq!(phase_at(4, 3, None), Phase::Exploitation);
        assert_eq!(phase_at(1, 0, None), Phase::Exploitation);
        assert_eq!(phase_at(1, 0, Some(2)), Phase::Exploration);
        assert_eq!(phase_at(3, 0, Some(2)), Phase::Exploitation);
    }

    #[test]
    fn epoch_zero_is_warmup_and_huge_settings_do_not_overflow() {
        assert_eq!(phase_at(0, 0, Some(5)), Phase::WarmUp);
        assert_eq!(phase_at(usize::MAX, 1, Some(usize::MAX)), Phase::Exploration);
    }

    #[test]
    fn display_and_serde_names() {
        assert_eq!(Phase::WarmUp.to_string(), "warm-up");
        assert_eq!(Phase::Exploration.to_string(), "exploration");
        assert_eq!(Phase::Exploitation.to_string(), "exploitation");
        for p in [Phase::WarmUp, Phase::Exploration, Phase::Exploitation] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{p}\""));
            assert_eq!(serde_json::from_str::<Phase>(&json).unwrap(), p);
        }
    }
}

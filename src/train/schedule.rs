//! Validation-driven schedules: PyTorch's ReduceLROnPlateau (mode min, relative threshold,
//! cooldown), the reference's early stopping (stop after `patience + 1` epochs in a row without a
//! new best validation loss), and the guard that keeps both idle until exploitation starts —
//! otherwise they fire during a slow start (warm-up and exploration) and cut runs short. The
//! best checkpoint is tracked from the start but its search restarts at the first armed epoch
//! (the reference could keep a warm-up model as its result).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlateauConfig {
    pub factor: f64,
    pub patience: usize,
    /// Relative improvement needed to count as better (PyTorch's default 1e-4, mode "rel").
    pub threshold: f64,
    pub cooldown: usize,
    pub min_lr: f64,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        PlateauConfig {
            factor: 0.5,
            patience: 5,
            threshold: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
        }
    }
}

/// What one validation result asks of the training loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Multiply every learning rate by this (1.0 = unchanged).
    pub lr_factor: f64,
    /// This epoch's validation loss is the best so far: keep its checkpoint.
    pub new_best: bool,
    pub stop: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    plateau: PlateauConfig,
    early_stop_patience: usize,
    /// Best validation loss seen (for the best checkpoint; tracked in every phase).
    best: Option<f64>,
    /// The plateau scheduler's own best and counters (only advanced once armed).
    plateau_best: Option<f64>,
    bad_epochs: usize,
    cooldown_left: usize,
    epochs_without_best: usize,
    /// Whether an armed epoch has been seen: the first one restarts the best-checkpoint search,
    /// so a run's result always comes from a model trained with its own sampler (before
    /// exploitation, softmax and uniform runs of one seed train identically).
    #[serde(default)]
    armed_once: bool,
}

impl Schedule {
    pub fn new(plateau: PlateauConfig, early_stop_patience: usize) -> Schedule {
        Schedule {
            plateau,
            early_stop_patience,
            best: None,
            plateau_best: None,
            bad_epochs: 0,
            cooldown_left: 0,
            epochs_without_best: 0,
            armed_once: false,
        }
    }

    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Feeds one epoch's validation loss. `armed` is false before exploitation starts: then only
    /// the best checkpoint is tracked, and neither schedule counts the epoch.
    pub fn observe(&mut self, val_loss: f64, armed: bool) -> Decision {
        if armed && !self.armed_once {
            self.armed_once = true;
            self.best = None;
        }
        let new_best = self.best.is_none_or(|b| val_loss < b);
        if new_best {
            self.best = Some(val_loss);
        }
        if !armed {
            return Decision {
                lr_factor: 1.0,
                new_best,
                stop: false,
            };
        }
        self.epochs_without_best = if new_best { 0 } else { self.epochs_without_best + 1 };
        let better = self
            .plateau_best
            .is_none_or(|b| val_loss < b * (1.0 - self.plateau.threshold));
        if better {
            self.plateau_best = Some(val_loss);
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_epochs = 0;
        }
        let mut lr_factor = 1.0;
        if self.bad_epochs > self.plateau.patience {
            lr_factor = self.plateau.factor;
            self.cooldown_left = self.plateau.cooldown;
            self.bad_epochs = 0;
        }
        Decision {
            lr_factor,
            new_best,
            stop: self.epochs_without_best > self.early_stop_patience,
        }
    }

    /// The new learning rate after a decision, floored at `min_lr`.
    pub fn apply(&self, lr: f64, d: &Decision) -> f64 {
        (lr * d.lr_factor).max(self.plateau.min_lr.min(lr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateau_halves_after_patience_plus_one_bad_epochs() {
        // patience 2: the third epoch without a relative improvement of 1e-4 halves the lr.
        let mut s = Schedule::new(
            PlateauConfig {
                patience: 2,
                ..Default::default()
            },
            100,
        );
        let factors: Vec<f64> = [1.0, 0.99995, 1.0, 1.2, 0.5, 0.6, 0.6, 0.6]
            .iter()
            .map(|&l| s.observe(l, true).lr_factor)
            .collect();
        // 1.0 best; 0.99995 is better but by less than 1e-4 relative: bad 1; 1.0 bad 2; 1.2 bad 3 -> halve;
        // 0.5 best; then 3 bad -> halve on the third.
        assert_eq!(factors, [1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 0.5]);
    }

    #[test]
    fn early_stop_after_patience_plus_one_epochs_without_a_new_best() {
        // Reference: the counter grows on every non-best epoch; stop when it exceeds 10.
        let mut s = Schedule::new(
            PlateauConfig {
                patience: 100,
                ..Default::default()
            },
            10,
        );
        assert!(!s.observe(1.0, true).stop);
        let stops: Vec<bool> = (0..11).map(|_| s.observe(2.0, true).stop).collect();
        assert_eq!(stops.iter().filter(|&&x| x).count(), 1);
        assert!(stops[10] && !stops[9]);
    }

    #[test]
    fn guard_keeps_both_idle_before_exploitation_but_tracks_the_best() {
        let mut s = Schedule::new(
            PlateauConfig {
                patience: 0,
                ..Default::default()
            },
            0,
        );
        let d = s.observe(1.0, false);
        assert!(d.new_best && d.lr_factor == 1.0 && !d.stop);
        for _ in 0..20 {
            let d = s.observe(5.0, false);
            assert!(!d.new_best && d.lr_factor == 1.0 && !d.stop);
        }
        assert_eq!(s.best(), Some(1.0));
        // Armed: the first epoch is the new best (the search restarts, 5.0 > 1.0 notwithstanding)
        // and seeds the plateau best; the next worse one trips both (patience 0).
        let d = s.observe(5.0, true);
        assert!(d.new_best && d.lr_factor == 1.0 && !d.stop);
        assert_eq!(s.best(), Some(5.0));
        let d = s.observe(6.0, true);
        assert!(!d.new_best && d.lr_factor == 0.5 && d.stop);
    }

    #[test]
    fn cooldown_suppresses_counting() {
        let mut s = Schedule::new(
            PlateauConfig {
                patience: 0,
                cooldown: 2,
                ..Default::default()
            },
            100,
        );
        s.observe(1.0, true);
        assert_eq!(s.observe(2.0, true).lr_factor, 0.5);
        // Two cooldown epochs: bad epochs are not counted.
        assert_eq!(s.observe(2.0, true).lr_factor, 1.0);
        assert_eq!(s.observe(2.0, true).lr_factor, 1.0);
        assert_eq!(s.observe(2.0, true).lr_factor, 0.5);
        assert_eq!(
            s.apply(
                0.1,
                &Decision {
                    lr_factor: 0.5,
                    new_best: false,
                    stop: false
                }
            ),
            0.05
        );
    }
}

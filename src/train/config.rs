//! Everything a training run needs, resolved once and saved in the run directory, so a run can be
//! resumed or re-evaluated without its command line.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::synth::SynthConfig;
use crate::error::{Error, Result};
use crate::sampling::SamplerKind;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// A pack file, a frame-folder root (ROOT/<split>/<Class>/<video>/), or None for the built-in
    /// synthetic benchmark (generated once into `synth_cache`).
    pub data: Option<PathBuf>,
    pub train_split: String,
    pub test_split: String,
    pub synth_cache: PathBuf,
    /// The synthetic benchmark used when `data` is None (generated once per distinct setting).
    pub synth: SynthConfig,
    pub model: String,
    pub sampler: SamplerKind,
    /// γ of test-time pooling; None = the sampling γ (0 for the uniform sampler: mean pooling).
    pub pool_gamma: Option<f64>,
    pub clip_len: usize,
    pub warmup_epochs: usize,
    pub exploration_epochs: usize,
    /// Maximum number of epochs (early stopping usually ends the run first).
    pub epochs: usize,
    pub batch: usize,
    /// Micro-batches whose gradients are averaged into one SGD step.
    pub accumulate: usize,
    pub lr_head: f64,
    pub lr_backbone: f64,
    pub wd_head: f64,
    pub wd_backbone: f64,
    pub momentum: f64,
    pub plateau_patience: usize,
    pub plateau_factor: f64,
    pub early_stop_patience: usize,
    pub val_fraction: f64,
    /// C3D-style validation and test score every `eval_stride`-th window (VGG-style scoring is
    /// one pass over the whole video and uses every window regardless).
    pub eval_stride: usize,
    /// Frames are resized to this square size, then randomly (training) or centrally cropped.
    pub resize: usize,
    pub crop: usize,
    pub seed: u64,
    /// Loader threads preparing clips ahead of the model.
    pub workers: usize,
    /// Start from this checkpoint, re-initialising the tensors under `reinit` (e.g. "fc8").
    pub init: Option<PathBuf>,
    pub reinit: Vec<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: None,
            train_split: "train".into(),
            test_split: "test".into(),
            synth_cache: PathBuf::from("runs/.synth"),
            synth: SynthConfig::default(),
            model: "tiny-c3d".into(),
            sampler: SamplerKind::Softmax { gamma: 1.0 },
            pool_gamma: None,
            clip_len: 16,
            warmup_epochs: 3,
            exploration_epochs: 5,
            epochs: 40,
            batch: 8,
            accumulate: 1,
            lr_head: 0.01,
            lr_backbone: 0.01,
            wd_head: 5e-4,
            wd_backbone: 5e-4,
            momentum: 0.9,
            plateau_patience: 5,
            plateau_factor: 0.5,
            early_stop_patience: 10,
            val_fraction: 0.2,
            eval_stride: 4,
            resize: 72,
            crop: 64,
            seed: 0,
            workers: 2,
            init: None,
            reinit: Vec::new(),
        }
    }
}

impl TrainConfig {
    /// The authors' settings with our averaged gradient accumulation: they summed 8 batch-mean
    /// losses, so averaging needs lr × 8 (head 5e-4 → 4e-3, backbone 2.5e-6 → 2e-5) and weight
    /// decay ÷ 8 (1e-3 → 1.25e-4, 1e-4 → 1.25e-5) for the same updates (SGD's step is
    /// lr · (g + wd · p), and g is 8× smaller).
    pub fn reference() -> TrainConfig {
        TrainConfig {
            model: "vgg3d".into(),
            batch: 4,
            accumulate: 8,
            lr_head: 4e-3,
            lr_backbone: 2e-5,
            wd_head: 1.25e-4,
            wd_backbone: 1.25e-5,
            epochs: 200,
            resize: 256,
            crop: 224,
            ..TrainConfig::default()
        }
    }

    /// The sampling γ (0 for uniform sampling).
    pub fn sampling_gamma(&self) -> f64 {
        match self.sampler {
            SamplerKind::Uniform => 0.0,
            SamplerKind::Softmax { gamma } | SamplerKind::Reinforce { gamma, .. } => gamma,
        }
    }

    /// The γ of validation and test pooling.
    pub fn pooling_gamma(&self) -> f64 {
        self.pool_gamma.unwrap_or_else(|| self.sampling_gamma())
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, msg: String| Err(Error::argument("train", format!("{what}: {msg}")));
        if self.batch == 0 || self.accumulate == 0 || self.epochs == 0 || self.clip_len == 0 || self.eval_stride == 0 {
            return bad(
                "--batch, --accumulate, --epochs, --clip-len",
                "must be at least 1".into(),
            );
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return bad("--val-fraction", format!("{} must be in [0, 1)", self.val_fraction));
        }
        if self.crop > self.resize {
            return bad(
                "--crop",
                format!("{} is larger than --resize {}", self.crop, self.resize),
            );
        }
        for (name, v) in [
            ("lr-head", self.lr_head),
            ("lr-backbone", self.lr_backbone),
            ("pool-gamma", self.pooling_gamma()),
        ] {
            if !v.is_finite() {
                return bad(name, format!("{v} must be finite"));
            }
        }
        Ok(())
    }
}

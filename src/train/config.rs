//! Everything a training run needs, resolved once and saved in the run directory, so a run can be
//! resumed or re-evaluated without its command line.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::augment::{AugmentConfig, SYNTH_STD};
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
    /// `holdout` (the data's train/test splits), `kfold:K` or `loso` (subject-independent folds
    /// over every split's videos pooled; see docs/protocols.md).
    pub protocol: String,
    /// Under a fold protocol, the fold this run trains and tests (set per fold run directory).
    pub fold: Option<usize>,
    /// Deals subjects to k-fold folds; fixed across training seeds so paired runs share folds.
    pub protocol_seed: u64,
    /// `FROM=TO,...`: classes kept (renamed, merged); the others dropped.
    pub class_map: Option<String>,
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
    /// Share of each class's training videos held out for validation. It must leave at least one
    /// video in all; 0 trains without validation (every epoch is then the best, with no plateau
    /// schedule or early stop).
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
    /// Dropout of the fully connected layers (None: the preset's 0.5). The synthetic pipeline sets
    /// it to the 2D pretraining's (0): a net pretrained without dropout and fine-tuned with it
    /// sees its features halved at random and trains at chance for many epochs.
    pub dropout: Option<f64>,
    /// Per-channel divisor after mean subtraction, (v - mean) / std. The reference recipe
    /// (AFEW) uses 1; the synthetic benchmark's default is its pixel std (unit-scale inputs).
    pub input_std: [f32; 3],
    /// The paper's pipeline on the synthetic benchmark: 2D pretraining, then inflation.
    pub pretrain: PretrainSettings,
}

/// 2D pretraining before training, used when the data is the synthetic benchmark, no `init` is
/// given and the model has a 2D counterpart (tiny-vgg3d -> tiny-vgg2d): the 2D model is trained
/// on the benchmark's still images (cached under `synth_cache` by a hash of these settings and
/// the benchmark's), inflated, and training starts from it with the classifier's last layer
/// re-initialised (the stills have an extra Neutral class).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PretrainSettings {
    pub enabled: bool,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Fixed across training seeds, so paired runs of a sweep share one pretrained backbone.
    pub seed: u64,
}

impl Default for PretrainSettings {
    fn default() -> Self {
        PretrainSettings {
            enabled: true,
            epochs: 30,
            batch: 16,
            lr: 0.002,
            weight_decay: 5e-4,
            seed: 0,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: None,
            train_split: "train".into(),
            test_split: "test".into(),
            protocol: "holdout".into(),
            fold: None,
            protocol_seed: 0,
            class_map: None,
            synth_cache: PathBuf::from("runs/.synth"),
            synth: TrainConfig::default_synth(),
            model: "tiny-vgg3d".into(),
            sampler: SamplerKind::Softmax { gamma: 1.0 },
            pool_gamma: None,
            clip_len: 8,
            warmup_epochs: 3,
            exploration_epochs: 5,
            epochs: 24,
            batch: 8,
            accumulate: 1,
            // Fine-tuning the pretrained backbone: higher rates wreck it in the first epochs
            // (off-segment clips of a video are confidently wrong, loss ~4.6 in epoch 1).
            lr_head: 0.001,
            lr_backbone: 0.0001,
            wd_head: 5e-4,
            wd_backbone: 5e-4,
            momentum: 0.9,
            plateau_patience: 2,
            plateau_factor: 0.5,
            early_stop_patience: 5,
            val_fraction: 0.2,
            eval_stride: 4,
            resize: 36,
            crop: 32,
            seed: 0,
            workers: 2,
            init: None,
            reinit: Vec::new(),
            dropout: None,
            input_std: SYNTH_STD,
            pretrain: PretrainSettings::default(),
        }
    }
}

impl TrainConfig {
    /// The benchmark `train` uses by default: sized so that a whole run (2D pretraining cached)
    /// takes about 3 minutes on a 2-core CPU. 36x36 frames (crop 32), videos of 24-64 frames
    /// with the expression on 15-30 % of them, clips of 8 frames: a uniformly drawn clip
    /// overlaps the segment about as often as a 16-frame clip does in AFEW-length videos.
    pub fn default_synth() -> SynthConfig {
        SynthConfig {
            classes: 7,
            videos_per_class: 48,
            subjects: 24,
            // A third of the subjects for test (112 videos): the test split is scored only once,
            // and each video is 0.9 points of accuracy.
            test_subjects: 8,
            size: 36,
            min_frames: 24,
            max_frames: 64,
            stills_per_class: 250,
            ..SynthConfig::default()
        }
    }

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
            input_std: [1.0; 3],
            ..TrainConfig::default()
        }
    }

    /// The run's augmentation (training) and preprocessing (validation, test).
    pub fn augment(&self) -> AugmentConfig {
        AugmentConfig {
            std: self.input_std,
            ..AugmentConfig::scaled(self.resize, self.crop)
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
        if self.input_std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return bad("input_std", format!("{:?} must be positive", self.input_std));
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
        for (name, v) in [("lr-head", self.lr_head), ("lr-backbone", self.lr_backbone)] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, format!("{v} must be finite and non-negative"));
            }
        }
        crate::data::protocol::Protocol::parse(&self.protocol)?;
        if let Some(map) = &self.class_map {
            crate::data::ClassMap::parse(map)?;
        }
        crate::infer::pooling::check_gamma("--gamma", self.sampling_gamma())?;
        crate::infer::pooling::Pooling::from_gamma(self.pooling_gamma())
            .map_err(|e| Error::argument("--pool-gamma", e.to_string()))?;
        Ok(())
    }
}

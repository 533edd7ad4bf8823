//! Small training runs on the synthetic benchmark, for the tests of the training loop
//! (tests/train_resume.rs, tests/train_device.rs).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stsm_engine::data::synth::SynthConfig;
use stsm_engine::nn::checkpoint;
use stsm_engine::sampling::SamplerKind;
use stsm_engine::tensor::Device;
use stsm_engine::train::{RunOptions, TrainConfig};

/// tiny-c3d on a 3-class benchmark of 18 videos (12 train, 3 validation, 3 test: one subject of
/// six held out, one video per class in validation), 36×36 frames
/// cropped to 32, 5 epochs: warm-up 1, exploration 2, exploitation 2; batches of 3, 2 accumulated.
pub fn tiny_c3d(cache: &Path) -> TrainConfig {
    TrainConfig {
        synth_cache: cache.to_path_buf(),
        synth: SynthConfig {
            classes: 3,
            videos_per_class: 6,
            subjects: 6,
            test_subjects: 1,
            size: 36,
            min_frames: 18,
            max_frames: 40,
            stills_per_class: 2,
            ..SynthConfig::default()
        },
        model: "tiny-c3d".into(),
        // C3D pools time 16 -> 1; the default (8 frames) is tiny-vgg3d's.
        clip_len: 16,
        sampler: SamplerKind::Softmax { gamma: 1.0 },
        warmup_epochs: 1,
        exploration_epochs: 2,
        epochs: 5,
        batch: 3,
        accumulate: 2,
        resize: 36,
        crop: 32,
        workers: 1,
        seed: 11,
        ..TrainConfig::default()
    }
}

/// A fresh (emptied) directory under the system's temporary directory, unique to this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stsm-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn options(out: &Path, resume: bool, interrupt_after_batches: Option<usize>, device: Device) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        resume,
        progress: false,
        device,
        interrupt_after_batches,
    }
}

/// The tensors of a run's resume state (parameters and `momentum/` buffers) by name, as f64.
pub fn end_tensors(run: &Path) -> BTreeMap<String, Vec<f64>> {
    let ckpt = checkpoint::load(&run.join("last.safetensors")).unwrap();
    ckpt.tensors
        .into_iter()
        .map(|(name, t)| (name, t.to_f64_vec().unwrap()))
        .collect()
}

/// Asserts that two runs ended with the same bits: every parameter and momentum buffer, and
/// the sampler tables, RNG and schedule (the metadata of last.safetensors holds them).
pub fn assert_same_end(x: &Path, y: &Path) {
    let (a, b) = (end_tensors(x), end_tensors(y));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(
        a.keys().any(|k| k.starts_with("momentum/")),
        "momentum buffers are saved"
    );
    for (name, p) in &a {
        // f32 values widened to f64 exactly, so equal f64 bits are equal f32 bits.
        assert!(
            p.iter().zip(&b[name]).all(|(u, v)| u.to_bits() == v.to_bits()),
            "{name} differs between {} and {}",
            x.display(),
            y.display()
        );
    }
    let state = |d: &Path| checkpoint::load(&d.join("last.safetensors")).unwrap().notes;
    assert_eq!(
        state(x),
        state(y),
        "resume state of {} and {}",
        x.display(),
        y.display()
    );
}

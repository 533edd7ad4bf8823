//! A run interrupted in the middle of an epoch and resumed ends with the same bits as an
//! uninterrupted run (same seed, same thread count): parameters, momentum, sampler tables.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use stsm_engine::data::synth::SynthConfig;
use stsm_engine::nn::checkpoint;
use stsm_engine::sampling::SamplerKind;
use stsm_engine::train::{self, RunOptions, TrainConfig};

fn tiny_config(cache: &Path) -> TrainConfig {
    TrainConfig {
        synth_cache: cache.to_path_buf(),
        synth: SynthConfig {
            classes: 3,
            videos_per_class: 6,
            subjects: 6,
            test_subjects: 2,
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

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stsm-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(out: &Path, resume: bool, interrupt_after_batches: Option<usize>) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        resume,
        progress: false,
        interrupt_after_batches,
    }
}

#[test]
fn interrupted_mid_epoch_and_resumed_equals_uninterrupted() {
    let cache = temp_dir("cache");
    let config = tiny_config(&cache);
    let never = AtomicBool::new(false);

    let whole = temp_dir("whole");
    let a = train::run(&config, &options(&whole, false, None), &never).unwrap();
    assert!(a.finished && a.epochs_done == 5, "{a:?}");

    // 12 training videos in batches of 3: 4 batches per epoch. Stopping after 14 batches leaves
    // epoch 4 half done (the exploitation phase, where sampler updates matter most).
    let split = temp_dir("split");
    let first = train::run(&config, &options(&split, false, Some(14)), &never).unwrap();
    assert!(!first.finished && first.epochs_done == 3, "{first:?}");
    let resumed = train::run(&config, &options(&split, true, None), &never).unwrap();
    assert!(resumed.finished && resumed.epochs_done == 5, "{resumed:?}");

    let (x, y) = (
        checkpoint::load(&whole.join("last.safetensors")).unwrap(),
        checkpoint::load(&split.join("last.safetensors")).unwrap(),
    );
    assert_eq!(
        x.tensors.keys().collect::<Vec<_>>(),
        y.tensors.keys().collect::<Vec<_>>()
    );
    assert!(
        x.tensors.keys().any(|k| k.starts_with("momentum/")),
        "momentum buffers are saved"
    );
    for (name, t) in &x.tensors {
        let (p, q) = (t.to_vec::<f32>().unwrap(), y.tensors[name].to_vec::<f32>().unwrap());
        assert!(
            p.iter().zip(&q).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name} differs after resuming"
        );
    }
    // The sampler tables, RNG and schedule too (the JSON state holds them all).
    let state = |d: &Path| std::fs::read_to_string(d.join("last.json")).unwrap();
    assert_eq!(state(&whole), state(&split));
    assert_eq!(a.test_acc.to_bits(), resumed.test_acc.to_bits());
    // `eval --run` scores the best checkpoint on the test split exactly as training did.
    let report = train::evaluate_run(&whole).unwrap();
    assert_eq!(
        report.metrics.accuracy.to_bits(),
        a.test_acc.to_bits(),
        "eval {} vs train {}",
        report.metrics.accuracy,
        a.test_acc
    );
    assert_eq!(report.videos, report.metrics.confusion.iter().flatten().sum::<usize>());
    let metrics = |d: &Path| {
        std::fs::read_to_string(d.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!((metrics(&whole), metrics(&split)), (5, 5));
    for d in [cache, whole, split] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn an_existing_run_is_not_overwritten_without_resume() {
    let cache = temp_dir("cache2");
    let mut config = tiny_config(&cache);
    config.epochs = 1;
    let out = temp_dir("twice");
    let never = AtomicBool::new(false);
    train::run(&config, &options(&out, false, None), &never).unwrap();
    let err = train::run(&config, &options(&out, false, None), &never)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already holds a run") && err.contains("--resume"), "{err}");
    for d in [cache, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

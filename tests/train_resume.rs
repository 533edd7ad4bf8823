//! A run interrupted in the middle of an epoch and resumed ends with the same bits as an
//! uninterrupted run (same seed, same thread count): parameters, momentum, sampler tables.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::train_run::{assert_same_end, options, temp_dir, tiny_c3d};
use stsm_engine::tensor::Device::Cpu;
use stsm_engine::train;

#[test]
fn interrupted_mid_epoch_and_resumed_equals_uninterrupted() {
    let cache = temp_dir("cache");
    let config = tiny_c3d(&cache);
    let never = AtomicBool::new(false);

    let whole = temp_dir("whole");
    let a = train::run(&config, &options(&whole, false, None, Cpu), &never).unwrap();
    assert!(a.finished && a.epochs_done == 5, "{a:?}");

    // 12 training videos in batches of 3: 4 batches per epoch. Stopping after 14 batches leaves
    // epoch 4 half done (the exploitation phase, where sampler updates matter most).
    let split = temp_dir("split");
    let first = train::run(&config, &options(&split, false, Some(14), Cpu), &never).unwrap();
    assert!(!first.finished && first.epochs_done == 3, "{first:?}");
    let resumed = train::run(&config, &options(&split, true, None, Cpu), &never).unwrap();
    assert!(resumed.finished && resumed.epochs_done == 5, "{resumed:?}");

    assert_same_end(&whole, &split);
    assert_eq!(a.test_acc.to_bits(), resumed.test_acc.to_bits());
    // `eval --run` scores the best checkpoint on the test split exactly as training did.
    let report = train::evaluate_run(&whole, Cpu).unwrap();
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
    let mut config = tiny_c3d(&cache);
    config.epochs = 1;
    let out = temp_dir("twice");
    let never = AtomicBool::new(false);
    train::run(&config, &options(&out, false, None, Cpu), &never).unwrap();
    let err = train::run(&config, &options(&out, false, None, Cpu), &never)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already holds a run") && err.contains("--resume"), "{err}");
    for d in [cache, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

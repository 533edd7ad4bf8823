//! The run directory survives what happens to real runs (issue 22): a failure at any write
//! point resumes to the same end as an uninterrupted run, a diverging run stops before anything
//! non-finite is saved, a second process is locked out, another run's files are never replaced,
//! and a resume asked to end before where it is refuses.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use common::train_run::{assert_same_end, options, temp_dir, tiny_c3d};
use stsm_engine::fsutil::{commits_so_far, fail_commit_after};
use stsm_engine::nn::checkpoint;
use stsm_engine::tensor::Device::Cpu;
use stsm_engine::train::{self, TrainConfig};

/// tiny-c3d for 2 epochs (warm-up, exploration) on the shared synthetic cache, generated once
/// for every test of this file.
fn config() -> TrainConfig {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        let dir = temp_dir("rel-cache");
        train::dataset::load(&tiny_c3d(&dir)).unwrap();
        dir
    });
    TrainConfig {
        epochs: 2,
        ..tiny_c3d(cache)
    }
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Finding 1: one run is stopped at every commit point in turn (config, split, best checkpoint,
/// metrics line, pictures, resume state, test record), as a kill there would stop it, and
/// resumed each time; it ends with the same bits as the uninterrupted run.
#[test]
fn a_failure_at_every_write_point_resumes_to_the_same_end() {
    let c = config();
    let whole = temp_dir("rel-whole");
    let before = commits_so_far();
    let a = train::run(&c, &options(&whole, false, None, Cpu), &never()).unwrap();
    let points = commits_so_far() - before;
    assert!(a.finished && a.epochs_done == 2, "{a:?}");
    // config + split, then per epoch at least metrics, 2 pictures and the state, then test.json.
    let at_least = 2 + 2 * 4 + 1;
    assert!(points >= at_least, "only {points} commit points");

    // Invocation after invocation, the failure moves one commit later; once the state has
    // moved on, it starts again at the first commit after config and split, so each commit
    // point of every epoch fails once (and the state commit of each epoch fails before it
    // succeeds).
    let dir = temp_dir("rel-cut");
    let (mut nth, mut failures, mut done_before) = (0, 0, 0);
    let end = loop {
        fail_commit_after(Some(nth));
        let r = train::run(&c, &options(&dir, failures > 0, None, Cpu), &never());
        fail_commit_after(None);
        match r {
            Ok(summary) => break summary,
            Err(e) => assert!(e.to_string().contains("injected failure"), "commit {nth}: {e}"),
        }
        failures += 1;
        assert!(failures <= 4 * points, "the run never finished");
        let done = train::state::read(&dir).map_or(0, |s| s.epochs_done + s.finished as usize);
        nth = if done > done_before { 2 } else { nth + 1 };
        done_before = done;
    };
    assert!(failures >= points, "{failures} failures for {points} commit points");
    assert!(end.finished && end.epochs_done == 2, "{end:?}");
    assert_same_end(&whole, &dir);
    assert_eq!(a.test_acc.to_bits(), end.test_acc.to_bits());
    assert_eq!(lines(&dir.join("metrics.jsonl")).len(), 2);
    for d in [whole, dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Finding 2: a learning rate that makes the weights diverge stops the run at the first
/// non-finite loss with the epoch, the phase and the likely cause; nothing non-finite is in
/// metrics.jsonl or the best checkpoint.
#[test]
fn a_diverging_run_stops_at_its_first_non_finite_loss() {
    let c = TrainConfig {
        lr_head: 1e4,
        lr_backbone: 1e4,
        epochs: 3,
        ..config()
    };
    let out = temp_dir("rel-diverge");
    let err = train::run(&c, &options(&out, false, None, Cpu), &never())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("loss is") && err.contains("learning rate") && err.contains("epoch "),
        "{err}"
    );
    for line in lines(&out.join("metrics.jsonl")) {
        assert!(!line.contains("null,") && !line.contains("NaN"), "{line}");
        let m: train::metrics::EpochMetrics = serde_json::from_str(&line).unwrap();
        assert!(m.train_loss.is_finite() && m.val_loss.unwrap().is_finite(), "{line}");
    }
    // A pooling γ beyond f32's range would turn every validation score to NaN: refused up front.
    let huge = TrainConfig {
        pool_gamma: Some(1e39),
        ..config()
    };
    let err = train::run(&huge, &options(&temp_dir("rel-huge-gamma"), false, None, Cpu), &never())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--pool-gamma") && err.contains("out of range"), "{err}");
    if out.join("best.safetensors").exists() {
        let best = checkpoint::load(&out.join("best.safetensors")).unwrap();
        for (name, t) in best.tensors {
            assert!(t.to_f64_vec().unwrap().iter().all(|v| v.is_finite()), "{name}");
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Finding 2 (reader): lines past the epoch a run resumes from are dropped unread, so a record
/// that cannot be read back (a `null`, a line torn by a crash) does not stop the resume.
#[test]
fn a_resume_drops_metric_lines_past_its_epoch_unread() {
    let dir = temp_dir("rel-metrics");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("metrics.jsonl");
    let good = train::metrics::EpochMetrics {
        epoch: 1,
        phase: "warmup".into(),
        train_loss: 1.5,
        train_acc: 0.25,
        val_loss: Some(1.25),
        val_acc: Some(0.5),
        lr_head: 0.1,
        lr_backbone: 0.01,
        clips_per_s: 10.0,
        seconds: 2.0,
        on_segment_rate: None,
        apex_rate: None,
        starts: vec![(0, 3)],
    };
    let first = serde_json::to_string(&good).unwrap();
    let second = first.replace("\"epoch\":1", "\"epoch\":2").replace("1.25", "null");
    std::fs::write(&path, format!("{first}\n{second}\n{{\"epoch\":3,\"pha")).unwrap();
    train::metrics::truncate(&path, 1).unwrap();
    assert_eq!(train::metrics::read(&path).unwrap(), vec![good]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 3: a run directory held by a live process is refused, naming its PID; a lock left by
/// a process that no longer runs is taken over, and released at the end.
#[test]
fn a_locked_run_directory_is_refused_naming_the_holder() {
    let c = TrainConfig { epochs: 1, ..config() };
    let out = temp_dir("rel-lock");
    std::fs::create_dir_all(&out).unwrap();
    let me = std::process::id();
    std::fs::write(out.join(".lock"), me.to_string()).unwrap();
    let err = train::run(&c, &options(&out, false, None, Cpu), &never())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("PID {me}")) && err.contains("in use"), "{err}");
    assert!(!out.join("config.json").exists(), "the locked directory was written");

    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(out.join(".lock"), dead.to_string()).unwrap();
    let done = train::run(&c, &options(&out, false, None, Cpu), &never()).unwrap();
    assert!(done.finished);
    assert!(!out.join(".lock").exists(), "the lock is released at the end");
    let _ = std::fs::remove_dir_all(&out);
}

/// Finding 4: a directory with another run's files but no resumable state is not a place for a
/// new run: it is refused, naming the files, and they stay as they were.
#[test]
fn a_new_run_never_replaces_another_runs_files() {
    let c = TrainConfig { epochs: 1, ..config() };
    let out = temp_dir("rel-replace");
    train::run(&c, &options(&out, false, None, Cpu), &never()).unwrap();
    for f in ["last.safetensors", "last.json"] {
        let _ = std::fs::remove_file(out.join(f));
    }
    let before = std::fs::read(out.join("best.safetensors")).unwrap();
    let other = TrainConfig { seed: 99, ..c };
    let err = train::run(&other, &options(&out, false, None, Cpu), &never())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("best.safetensors") && err.contains("another --out"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("best.safetensors")).unwrap(), before);
    let saved: TrainConfig = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved.seed, 11);
    let _ = std::fs::remove_dir_all(&out);
}

/// Finding 6 (--resume --epochs N below what is done): refused before config.json changes.
#[test]
fn a_resume_asked_to_end_before_where_it_is_refuses() {
    let c = config();
    let out = temp_dir("rel-fewer");
    train::run(&c, &options(&out, false, None, Cpu), &never()).unwrap();
    let config_before = std::fs::read(out.join("config.json")).unwrap();
    let fewer = TrainConfig { epochs: 1, ..c };
    let err = train::run(&fewer, &options(&out, true, None, Cpu), &never())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--epochs 1") && err.contains("2 epochs"), "{err}");
    assert_eq!(std::fs::read(out.join("config.json")).unwrap(), config_before);
    let _ = std::fs::remove_dir_all(&out);
}

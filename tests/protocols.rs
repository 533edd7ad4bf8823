//! Subject-independent protocols (issue 20): a k-fold run over the tiny synthetic benchmark,
//! interrupted and resumed, ends exactly as an uninterrupted one and summarises its folds; and
//! the errors a user meets first (missing subjects, K above the subjects, a class absent from a
//! fold's training set, a class map naming an unknown class, a bad protocol string).

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::reliability::{frame_root, scratch, write_video};
use common::train_run::{assert_same_end, temp_dir, tiny_c3d};
use stsm_engine::tensor::Device::Cpu;
use stsm_engine::train::protocol::{self, fold_dir, ProtocolOptions, Summary};
use stsm_engine::train::{dataset, TrainConfig};

/// tiny-c3d, 2 epochs, 2-fold over the 6 subjects of the tiny benchmark (all splits pooled).
fn config(cache: &Path) -> TrainConfig {
    TrainConfig {
        epochs: 2,
        protocol: "kfold:2".into(),
        // About 3 training videos per class and fold: one of each class for validation.
        val_fraction: 0.34,
        ..tiny_c3d(cache)
    }
}

fn options(out: &Path, interrupt_after_batches: Option<usize>) -> ProtocolOptions {
    ProtocolOptions {
        out: out.to_path_buf(),
        only_fold: None,
        progress: false,
        device: Cpu,
        interrupt_after_batches,
    }
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn summary(dir: &Path) -> Summary {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_resumed_protocol_run_equals_an_uninterrupted_one() {
    let cache = temp_dir("proto-cache");
    let c = config(&cache);
    let whole = temp_dir("proto-whole");
    assert!(protocol::run(&c, &options(&whole, None), &never()).unwrap());

    // The folds keep every subject on one side, and each video is tested once.
    let split = dataset::protocol_split(&c).unwrap();
    assert_eq!(split.folds.len(), 2);
    let tested: usize = split.folds.iter().map(|f| f.held_out.len()).sum();
    assert_eq!(tested, 18);

    // Interrupted 3 batches into fold 0, then run again: fold 0 resumes, fold 1 runs.
    let parts = temp_dir("proto-parts");
    assert!(!protocol::run(&c, &options(&parts, Some(3)), &never()).unwrap());
    assert!(!parts.join("summary.json").exists());
    assert!(protocol::run(&c, &options(&parts, None), &never()).unwrap());
    for f in 0..2 {
        assert_same_end(&fold_dir(&whole, f), &fold_dir(&parts, f));
    }
    let (a, b) = (summary(&whole), summary(&parts));
    assert_eq!(a, b);
    assert_eq!((a.folds_finished, a.folds_total), (2, 2));

    // The summary's numbers, computed again from the folds' test records.
    let mut accs = Vec::new();
    for f in 0..2 {
        let t: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fold_dir(&whole, f).join("test.json")).unwrap()).unwrap();
        let per_video = t["per_video"].as_array().unwrap();
        let correct = per_video
            .iter()
            .filter(|v| {
                let s: Vec<f64> = v["scores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                let best = (0..s.len()).fold(0, |b, k| if s[k] > s[b] { k } else { b });
                best as u64 == v["label"].as_u64().unwrap()
            })
            .count();
        accs.push(correct as f64 / per_video.len() as f64);
    }
    let mean = (accs[0] + accs[1]) / 2.0;
    let std = ((accs[0] - mean).powi(2) + (accs[1] - mean).powi(2)).sqrt();
    assert!((a.accuracy.mean.unwrap() - mean).abs() < 1e-12);
    assert!((a.accuracy.std.unwrap() - std).abs() < 1e-12);
    // Three classes: no ROC metrics.
    assert!(a.roc_auc.is_none());
    let md = std::fs::read_to_string(whole.join("summary.md")).unwrap();
    assert!(
        md.contains(&format!("{:.1} ± {:.1}", 100.0 * mean, 100.0 * std)),
        "{md}"
    );

    // A finished run is skipped whole the next time; a fold out of range is refused.
    assert!(protocol::run(&c, &options(&whole, None), &never()).unwrap());
    let err = protocol::run(
        &c,
        &ProtocolOptions {
            only_fold: Some(2),
            ..options(&whole, None)
        },
        &never(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--fold") && err.contains("2 folds"), "{err}");

    // K above the number of subjects (6), and a class map naming a class the data lacks.
    let err = dataset::protocol_split(&TrainConfig {
        protocol: "kfold:9".into(),
        ..c.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("k = 9") && err.contains("6 subjects"), "{err}");
    let err = dataset::protocol_split(&TrainConfig {
        class_map: Some("Angry=A,Calm=B".into()),
        ..c.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("--class-map") && err.contains("Calm") && err.contains("Disgust"),
        "{err}"
    );
    // A class map keeps two of the three classes under new names.
    let mapped = dataset::load(&TrainConfig {
        class_map: Some("Angry=A,Fear=B".into()),
        fold: Some(0),
        ..c.clone()
    })
    .unwrap();
    assert_eq!(mapped.classes, ["A", "B"]);
    let all = mapped.train.videos();
    assert_eq!(all.len(), 12);
    for &v in mapped.train_videos.iter().chain(&mapped.val_videos) {
        assert!(!mapped.test_videos.contains(&v));
        let subject = &all[v].subject;
        assert!(mapped.test_videos.iter().all(|&t| &all[t].subject != subject));
    }
    let _ = std::fs::remove_dir_all(&whole);
    let _ = std::fs::remove_dir_all(&parts);
}

#[test]
fn a_protocol_on_data_without_subjects_says_how_to_give_them() {
    let root = scratch("proto-nosubjects");
    frame_root(&root, &[("train", 2), ("test", 1)], &["A", "B"]);
    let c = TrainConfig {
        data: Some(root.clone()),
        protocol: "loso".into(),
        ..TrainConfig::default()
    };
    let err = dataset::protocol_split(&c).unwrap_err().to_string();
    assert!(
        err.contains("no subject") && err.contains("manifest") && err.contains("subject"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_class_missing_from_a_folds_training_set_is_an_error() {
    // Subject p1 holds every video of class B: leaving p1 out leaves no B to train on.
    let dir = scratch("proto-missing-class");
    let mut manifest = String::from("path,label,subject\n");
    for (i, (label, subject)) in [("A", "p1"), ("B", "p1"), ("A", "p2"), ("A", "p3")].iter().enumerate() {
        write_video(&dir.join(format!("v{i}")), 4, 8, i as u64);
        manifest.push_str(&format!("v{i},{label},{subject}\n"));
    }
    std::fs::write(dir.join("data.csv"), manifest).unwrap();
    let c = TrainConfig {
        data: Some(dir.join("data.csv")),
        protocol: "loso".into(),
        fold: Some(0),
        val_fraction: 0.0,
        ..TrainConfig::default()
    };
    assert_eq!(dataset::protocol_split(&c).unwrap().folds.len(), 3);
    let err = dataset::load(&c)
        .err()
        .expect("fold 0 has no B to train on")
        .to_string();
    assert!(err.contains("class `B`") && err.contains("subject-p1"), "{err}");
    // Under holdout the manifest needs a split column.
    let err = dataset::load(&TrainConfig {
        protocol: "holdout".into(),
        fold: None,
        ..c
    })
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("split") && err.contains("kfold"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The pain stand-in (planned, and a tiny one written): BL1 neutral, PA3 weaker than PA4 after
/// the onset, reactivity per subject; synth's output folder taken as --data with a class map.
#[test]
fn the_pain_stand_in_and_its_output_folder_as_data() {
    use stsm_engine::data::synth::{generate, plan, reactivity, PainConfig, SynthConfig};
    let cfg = SynthConfig::pain_biovid();
    let p = cfg.pain.clone().unwrap();
    let videos = plan(&cfg).unwrap();
    assert_eq!(videos.len(), 3 * 144);
    let subjects: std::collections::BTreeSet<&str> = videos.iter().map(|v| v.subject.as_str()).collect();
    assert!(subjects.len() >= 40, "{} subjects", subjects.len());
    let mut non_reactors = 0;
    for s in 0..cfg.subjects {
        let r = reactivity(&cfg, &p, s);
        non_reactors += (r <= p.non_reactor_reactivity[1]) as usize;
        assert!((0.0..=1.0).contains(&r));
    }
    assert!(non_reactors > 0 && non_reactors < cfg.subjects / 2, "{non_reactors}");
    for v in &videos {
        assert_eq!(v.frames, 64);
        let peak = v.intensity.iter().copied().fold(0.0f32, f32::max);
        let subject: usize = v.subject[1..].parse().unwrap();
        let r = reactivity(&cfg, &p, subject);
        match v.class.as_str() {
            "BL1" => assert_eq!(peak, 0.0, "{}", v.id),
            level => {
                // The grimace starts after onset + minimum latency, and peaks at level × reactivity.
                assert!(v.segment[0] >= p.onset + p.latency[0], "{}", v.id);
                let want = if level == "PA3" { p.peak[0] } else { p.peak[1] } * r;
                assert!((peak - want).abs() < 1e-6, "{}: {peak} vs {want}", v.id);
                assert!(v.intensity[..v.segment[0]].iter().all(|&i| i == 0.0));
            }
        }
    }

    // The shipped configs hold exactly the stand-ins `synth --task pain|unbc` writes.
    for (file, want, protocol) in [
        ("configs/pain-biovid.toml", SynthConfig::pain_biovid(), "kfold:8"),
        ("configs/pain-unbc.toml", SynthConfig::pain_unbc(), "loso"),
    ] {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        let c: TrainConfig = toml::from_str(&text).unwrap();
        c.validate().unwrap();
        assert_eq!((c.synth, c.protocol.as_str()), (want, protocol), "{file}");
    }

    // A tiny UNBC-like draw on disk, as --data (its folder) under leave-one-subject-out.
    let dir = temp_dir("proto-pain");
    let tiny = SynthConfig {
        subjects: 3,
        test_subjects: 1,
        size: 16,
        min_frames: 10,
        max_frames: 14,
        stills_per_class: 1,
        pain: Some(PainConfig {
            class_videos: [4, 0, 3],
            onset: 2,
            latency: [0, 3],
            grimace_frames: [3, 5],
            ..PainConfig::unbc()
        }),
        ..SynthConfig::pain_unbc()
    };
    generate(&tiny, &dir, 1, false).unwrap();
    let c = TrainConfig {
        data: Some(dir.clone()),
        protocol: "loso".into(),
        class_map: Some("BL1=NoPain,PA4=Pain".into()),
        ..TrainConfig::default()
    };
    let split = dataset::protocol_split(&c).unwrap();
    let in_data: std::collections::BTreeSet<String> = plan(&tiny).unwrap().iter().map(|v| v.subject.clone()).collect();
    assert_eq!(split.folds.len(), in_data.len());
    assert!(split.folds.iter().all(|f| f.train.len() + f.held_out.len() == 7));
    let _ = std::fs::remove_dir_all(&dir);
}

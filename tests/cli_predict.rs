//! `predict` and `eval` as a user runs them, on a checkpoint and frame folders written here:
//! predict's pooled scores equal the unfused one-pass scorer on the same frames, eval's confusion
//! matrix agrees with predict video by video, and bad input is an error naming what to fix.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::data::{read_video, AugmentConfig, Discovery, FolderSource, Interp, Media, VideoEntry, VideoSource};
use stsm_engine::infer::scorer::unfused_pooled;
use stsm_engine::nn::checkpoint::{save_params, CheckpointMeta, Preprocessing};
use stsm_engine::nn::layers::Module;
use stsm_engine::nn::{Model, ModelConfig};
use stsm_engine::tensor::DType;

const CLASSES: [&str; 3] = ["Angry", "Happy", "Sad"];

fn engine(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stsm-engine"))
        .args(args)
        .output()
        .expect("run stsm-engine");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `stsm-engine predict --checkpoint CKPT --video VIDEO EXTRA...`.
fn predict(ckpt: &Path, video: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "predict",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--video",
        video.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    engine(&args)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stsm-cli-predict-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_frames(dir: &Path, frames: usize, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for t in 0..frames {
        let pixels: Vec<u8> = (0..32 * 32 * 3).map(|_| rng.gen()).collect();
        image::save_buffer(
            dir.join(format!("{}.png", t + 1)),
            &pixels,
            32,
            32,
            image::ColorType::Rgb8,
        )
        .unwrap();
    }
}

/// A seeded tiny-vgg3d on 32×32 frames saved with its metadata (pooling γ 2).
fn checkpoint(dir: &Path) -> (PathBuf, Model, CheckpointMeta) {
    let mut config = ModelConfig::preset("tiny-vgg3d", CLASSES.len()).unwrap();
    config.input = [16, 32, 32];
    let model = Model::seeded(config.clone(), DType::F32, 3).unwrap();
    let meta = CheckpointMeta {
        model: config,
        classes: CLASSES.map(String::from).to_vec(),
        preprocessing: Some(Preprocessing {
            resize: [32; 2],
            crop: [32; 2],
            mean: [0.5; 3],
            std: [0.25; 3],
        }),
        sampling_gamma: Some(2.0),
        pooling_gamma: Some(2.0),
        notes: Default::default(),
    };
    let path = dir.join("model.safetensors");
    save_params(&path, &model.parameters(), Some(&meta)).unwrap();
    (path, model, meta)
}

/// The pooled scores of a frame folder by the unfused scorer, read through the data pipeline.
fn expected_pooled(model: &Model, meta: &CheckpointMeta, video: &Path, gamma: f64) -> Vec<f64> {
    let frames = stsm_engine::data::frames::list_frames(video).unwrap();
    let discovery = Discovery {
        classes: meta.classes.clone(),
        videos: vec![VideoEntry {
            id: "v".into(),
            label: 0,
            subject: None,
            split: None,
            media: Media::Frames(frames),
        }],
        warnings: Vec::new(),
    };
    let source = FolderSource::new(discovery, None, Interp::Bilinear).unwrap();
    let pre = meta.preprocessing.as_ref().unwrap();
    let augment = AugmentConfig {
        mean: pre.mean,
        std: pre.std,
        ..AugmentConfig::scaled(32, 32)
    };
    assert_eq!(source.videos()[0].frames, std::fs::read_dir(video).unwrap().count());
    let tensor = read_video(&source, 0, &augment).unwrap();
    unfused_pooled(model, &tensor, 16, 1, gamma).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn predict_json_matches_the_unfused_scorer_and_draws_the_windows() {
    let dir = scratch("json");
    let (ckpt, model, meta) = checkpoint(&dir);
    let video = dir.join("clip");
    write_frames(&video, 27, 1);
    let png = dir.join("windows.png");
    let (ok, out, err) = predict(
        &ckpt,
        &video,
        &["--chunk-frames", "5", "--json", "--png", png.to_str().unwrap()],
    );
    assert!(ok, "{out}{err}");
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The checkpoint's γ is the default pooling.
    assert_eq!(p["gamma"].as_f64(), Some(2.0));
    let want = expected_pooled(&model, &meta, &video, 2.0);
    let pooled = floats(&p["pooled"]);
    for (a, b) in pooled.iter().zip(&want) {
        assert!(
            (a - b).abs() < 1e-5 * (1.0 + b.abs()),
            "pooled {pooled:?} vs unfused {want:?}"
        );
    }
    let probs = floats(&p["probabilities"]);
    let total: f64 = pooled.iter().map(|v| v.exp()).sum();
    for (p, s) in probs.iter().zip(&pooled) {
        assert!((p - s.exp() / total).abs() < 1e-9);
    }
    let best = (0..3).max_by(|&a, &b| want[a].total_cmp(&want[b])).unwrap();
    assert_eq!(p["predicted"].as_str(), Some(CLASSES[best]));
    // 27 frames: windows 0..=11, each class's weights sum to 1.
    assert_eq!(p["window_starts"].as_array().unwrap().len(), 12);
    for row in p["window_weights"].as_array().unwrap() {
        assert!((floats(row).iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
    assert!(image::open(&png).is_ok(), "no PNG at {}", png.display());

    // Text output names the prediction; mean pooling is γ = 0.
    let (ok, out, err) = predict(&ckpt, &video, &["--pool", "mean"]);
    assert!(ok, "{out}{err}");
    let mean = expected_pooled(&model, &meta, &video, 0.0);
    let best = (0..3).max_by(|&a, &b| mean[a].total_cmp(&mean[b])).unwrap();
    assert!(out.contains(&format!("{}  ", CLASSES[best])) && out.contains("<- predicted") && out.contains("mean"));
    let line = out.lines().find(|l| l.contains("<- predicted")).unwrap();
    assert!(line.starts_with(CLASSES[best]), "{out}");
}

#[test]
fn eval_on_a_frame_folder_root_agrees_with_predict_video_by_video() {
    let dir = scratch("eval");
    let (ckpt, _, _) = checkpoint(&dir);
    let root = dir.join("data");
    let mut predicted = Vec::new();
    for (label, class) in CLASSES.iter().enumerate() {
        for v in 0..2 {
            let video = root.join("test").join(class).join(format!("{class}-{v}"));
            write_frames(&video, 14 + 5 * v + label, (10 * label + v) as u64);
            let (ok, out, err) = predict(&ckpt, &video, &["--json"]);
            assert!(ok, "{out}{err}");
            let p: serde_json::Value = serde_json::from_str(&out).unwrap();
            predicted.push((label, p["predicted_index"].as_u64().unwrap() as usize));
        }
    }
    let json = dir.join("eval.json");
    let (ok, out, err) = engine(&[
        "eval",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--data",
        root.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let mut confusion = vec![vec![0u64; 3]; 3];
    for &(truth, guess) in &predicted {
        confusion[truth][guess] += 1;
    }
    let got: Vec<Vec<u64>> = report["metrics"]["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect())
        .collect();
    assert_eq!(got, confusion, "{out}");
    let correct = predicted.iter().filter(|(t, g)| t == g).count() as f64;
    assert!((report["metrics"]["accuracy"].as_f64().unwrap() - correct / 6.0).abs() < 1e-12);
}

#[test]
fn bad_input_is_an_error_naming_it() {
    let dir = scratch("bad");
    let (ckpt, _, _) = checkpoint(&dir);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, _, err) = predict(&ckpt, &empty, &[]);
    assert!(!ok && err.contains("empty") && err.contains("no frame images"), "{err}");

    let broken = dir.join("broken");
    write_frames(&broken, 4, 2);
    std::fs::write(broken.join("3.png"), b"not a png").unwrap();
    let (ok, _, err) = predict(&ckpt, &broken, &[]);
    assert!(!ok && err.contains("3.png"), "{err}");

    let video = dir.join("ok");
    write_frames(&video, 4, 3);
    let (ok, _, err) = predict(&ckpt, &video, &["--pool", "median"]);
    assert!(!ok && err.contains("median") && err.contains("--pool"), "{err}");

    // A checkpoint without metadata needs --model; the wrong model is an error naming tensors.
    let bare = dir.join("bare.safetensors");
    let model = Model::seeded(ModelConfig::preset("tiny-c3d", 3).unwrap(), DType::F32, 0).unwrap();
    save_params(&bare, &model.parameters(), None).unwrap();
    let (ok, _, err) = predict(&bare, &video, &[]);
    assert!(!ok && err.contains("--model"), "{err}");
    let (ok, _, err) = predict(&bare, &video, &["--model", "tiny-vgg3d", "--class-names", "a,b,c"]);
    assert!(
        !ok && err.contains("features.0.weight") && err.contains("conv1.weight"),
        "{err}"
    );
}

//! The commands a user runs on video files: `synth --format`, `pack` (refusing bad files, all
//! listed at once, or skipping them into its report), `predict --video FILE` against the same
//! frames as a folder, `eval` and `train --data ROOT` on a root of video files. Each test prints a
//! visible `SKIP: ffmpeg not installed` and passes when FFmpeg is absent (CI installs it).

#[path = "common/video.rs"]
mod video;

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::data::pack::Pack;
use stsm_engine::data::source::VideoSource;
use stsm_engine::data::video_file::{encode_frames, VideoFormat};
use stsm_engine::nn::checkpoint::{save_params, CheckpointMeta, Preprocessing};
use stsm_engine::nn::layers::Module;
use stsm_engine::nn::{Model, ModelConfig};
use stsm_engine::tensor::DType;
use video::{bad_videos, have_ffmpeg};

const CLASSES: [&str; 2] = ["Angry", "Happy"];

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

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Random 32x32 frames `0000.png ...` (noise: any misplaced byte changes the scores).
fn write_frames(dir: &Path, frames: usize, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for t in 0..frames {
        let pixels: Vec<u8> = (0..32 * 32 * 3).map(|_| rng.gen()).collect();
        image::save_buffer(dir.join(format!("{t:04}.png")), &pixels, 32, 32, image::ColorType::Rgb8).unwrap();
    }
}

/// A seeded tiny-vgg3d on 32x32 frames saved with its metadata.
fn checkpoint(dir: &Path) -> PathBuf {
    let mut config = ModelConfig::preset("tiny-vgg3d", CLASSES.len()).unwrap();
    config.input = [16, 32, 32];
    let model = Model::seeded(config.clone(), DType::F32, 5).unwrap();
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
    path
}

/// `predict --json` without the `video` field (the path differs by construction).
fn prediction(ckpt: &Path, video: &Path) -> serde_json::Value {
    let (ok, out, err) = engine(&["predict", "--checkpoint", s(ckpt), "--video", s(video), "--json"]);
    assert!(ok, "{out}{err}");
    let mut p: serde_json::Value = serde_json::from_str(&out).unwrap();
    p.as_object_mut().unwrap().remove("video");
    p
}

#[test]
fn predict_and_eval_on_lossless_video_files_equal_them_on_the_frames() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = checkpoint(tmp.path());
    let (frames_root, files_root) = (tmp.path().join("frames"), tmp.path().join("files"));
    for (label, class) in CLASSES.iter().enumerate() {
        for v in 0..2 {
            let id = format!("{class}-{v}");
            let folder = frames_root.join("test").join(class).join(&id);
            write_frames(&folder, 17 + 3 * v + label, (10 * label + v) as u64);
            let file = files_root.join("test").join(class).join(format!("{id}.mkv"));
            encode_frames(&folder.join("%04d.png"), 25, VideoFormat::Mkv, &file).unwrap();
            let from_file = prediction(&ckpt, &file);
            assert_eq!(from_file, prediction(&ckpt, &folder), "{id}");
            assert_eq!(from_file["frames"].as_u64(), Some((17 + 3 * v + label) as u64));
        }
    }
    let mut reports = Vec::new();
    for root in [&frames_root, &files_root] {
        let json = tmp.path().join("eval.json");
        let (ok, out, err) = engine(&["eval", "--checkpoint", s(&ckpt), "--data", s(root), "--json", s(&json)]);
        assert!(ok, "{out}{err}");
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        reports.push(report["metrics"].clone());
    }
    assert_eq!(reports[0], reports[1]);
    // Nothing decoded was left behind in the data or the temporary folder's pack names.
    assert!(std::fs::read_dir(files_root.join("test/Angry")).unwrap().all(|e| e
        .unwrap()
        .path()
        .extension()
        .is_some_and(|x| x == "mkv")));

    // A bad file is an error naming it, and --fps is refused for a frame folder.
    let bad = tmp.path().join("bad");
    let (file, reason) = bad_videos(&bad).remove(0);
    let (ok, _, err) = engine(&["predict", "--checkpoint", s(&ckpt), "--video", s(&file)]);
    assert!(!ok && err.contains(s(&file)) && err.contains(reason), "{err}");
    let folder = frames_root.join("test/Angry/Angry-0");
    let (ok, _, err) = engine(&["predict", "--checkpoint", s(&ckpt), "--video", s(&folder), "--fps", "5"]);
    assert!(!ok && err.contains("--fps"), "{err}");
}

#[test]
fn predict_fps_resamples_a_video_file() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = checkpoint(tmp.path());
    let folder = tmp.path().join("clip");
    write_frames(&folder, 40, 3);
    let file = tmp.path().join("clip.mkv");
    encode_frames(&folder.join("%04d.png"), 25, VideoFormat::Mkv, &file).unwrap();
    let (ok, out, err) = engine(&[
        "predict",
        "--checkpoint",
        s(&ckpt),
        "--video",
        s(&file),
        "--fps",
        "12.5",
        "--json",
    ]);
    assert!(ok, "{out}{err}");
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    // 40 frames at 25 fps last 1.6 s: 20 frames at 12.5 fps.
    assert_eq!(p["frames"].as_u64(), Some(20), "{out}");
}

#[test]
fn pack_lists_every_bad_file_at_once_or_skips_them_into_its_report() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    let bad = bad_videos(&root.join("train/Angry"));
    for (class, seed) in [("Angry", 1), ("Happy", 2)] {
        let folder = tmp.path().join(format!("frames-{class}"));
        write_frames(&folder, 6, seed);
        let file = root.join("train").join(class).join(format!("good-{class}.mp4"));
        encode_frames(&folder.join("%04d.png"), 25, VideoFormat::Mp4, &file).unwrap();
    }
    let out_dir = tmp.path().join("packs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("train.stsmpack");
    let pack_args = [
        "pack",
        "--root",
        s(&root),
        "--split",
        "train",
        "--out",
        s(&out),
        "--quiet",
    ];
    let (ok, stdout, err) = engine(&pack_args);
    assert!(!ok, "{stdout}{err}");
    assert!(err.contains(&format!("{} of 8 videos", bad.len())), "{err}");
    for (file, reason) in &bad {
        let name = file.file_name().unwrap().to_str().unwrap();
        let line = err
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not listed: {err}"));
        assert!(line.contains(reason), "{name}: `{reason}` missing from `{line}`");
    }
    assert!(!err.contains("good-"), "{err}");
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0, "nothing half-written");

    let mut skip_args = pack_args.to_vec();
    skip_args.push("--skip-bad");
    let (ok, stdout, err) = engine(&skip_args);
    assert!(ok, "{stdout}{err}");
    let pack = Pack::open(&out).unwrap();
    let ids: Vec<&str> = pack.videos().iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["good-Angry", "good-Happy"]);
    assert!(pack.videos().iter().all(|v| v.frames == 6 && v.width == 32));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("train.stsmpack.report.json")).unwrap()).unwrap();
    let skipped = report["skipped_files"].as_array().unwrap();
    assert_eq!(skipped.len(), bad.len(), "{report}");
    for (file, reason) in &bad {
        let entry = skipped.iter().find(|e| e["path"].as_str() == Some(s(file))).unwrap();
        assert!(entry["reason"].as_str().unwrap().contains(reason), "{entry}");
    }
    assert_eq!(report["videos"].as_u64(), Some(2));
}

#[test]
fn synth_as_video_files_then_train_on_the_root() {
    if !have_ffmpeg() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("synth");
    let (ok, out, err) = engine(&[
        "synth",
        "--out",
        s(&data),
        "--format",
        "mkv",
        "--classes",
        "3",
        "--videos-per-class",
        "6",
        "--subjects",
        "6",
        "--test-subjects",
        "1",
        "--size",
        "36",
        "--min-frames",
        "18",
        "--max-frames",
        "24",
        "--stills-per-class",
        "1",
        "--quiet",
    ]);
    assert!(ok, "{out}{err}");
    let root = data.join("videos");
    let files: Vec<PathBuf> = std::fs::read_dir(root.join("train/Angry"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        !files.is_empty() && files.iter().all(|f| f.extension().is_some_and(|x| x == "mkv")),
        "{files:?}"
    );
    let run = tmp.path().join("run");
    let (ok, out, err) = engine(&[
        "train",
        "--config",
        "configs/quick.toml",
        "--data",
        s(&root),
        "--epochs",
        "1",
        "--out",
        s(&run),
        "--quiet",
    ]);
    assert!(ok, "{out}{err}");
    for f in ["test.json", "best.safetensors"] {
        assert!(run.join(f).is_file(), "{f} missing: {out}{err}");
    }
    // The videos were decoded once into the data cache beside them.
    let cache = Pack::open(&root.join(".train.stsmpack")).unwrap();
    let train_files = ["Angry", "Disgust", "Fear"]
        .iter()
        .map(|c| std::fs::read_dir(root.join("train").join(c)).unwrap().count())
        .sum::<usize>();
    assert_eq!(cache.videos().len(), train_files);
    assert!(cache
        .videos()
        .iter()
        .all(|v| (18..=24).contains(&v.frames) && v.width == 36));
}

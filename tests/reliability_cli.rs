//! The command line as a skeptical user runs it (issue 22): flags a mode would ignore are
//! refused, non-finite scores are an error naming the cause, Ctrl-C exits 130, crafted or
//! never-ending checkpoints and oversized requests fail up front, and temporary files are never
//! followed through a planted link nor left behind.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::reliability::{assert_clean_error, engine, engine_within, frame_root, scratch, text, write_video};
use common::train_run::tiny_c3d;
use stsm_engine::nn::checkpoint::{self, CheckpointMeta, Preprocessing};
use stsm_engine::nn::layers::Module;
use stsm_engine::nn::{Model, ModelConfig};
use stsm_engine::tensor::{DType, Tensor};
use stsm_engine::train::TrainConfig;

const SHORT: Duration = Duration::from_secs(30);

/// A TOML run config: tiny-c3d on a tiny synthetic benchmark generated under `dir`.
fn tiny_toml(dir: &Path, epochs: usize) -> PathBuf {
    let c = TrainConfig {
        epochs,
        ..tiny_c3d(&dir.join("synth"))
    };
    let path = dir.join("tiny.toml");
    std::fs::write(&path, toml::to_string(&c).unwrap()).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// tiny-c3d on 16×32×32 clips with 2 classes, saved with metadata; `edit` changes tensors or
/// metadata before saving.
fn crafted_checkpoint(path: &Path, edit: impl FnOnce(&mut Vec<(String, Tensor)>, &mut CheckpointMeta)) {
    let mut config = ModelConfig::preset("tiny-c3d", 2).unwrap();
    config.input = [16, 32, 32];
    let model = Model::seeded(config.clone(), DType::F32, 5).unwrap();
    let mut meta = CheckpointMeta {
        model: config,
        classes: vec!["Angry".into(), "Happy".into()],
        preprocessing: Some(Preprocessing {
            resize: [32; 2],
            crop: [32; 2],
            mean: [0.5; 3],
            std: [0.25; 3],
        }),
        sampling_gamma: Some(1.0),
        pooling_gamma: Some(1.0),
        notes: Default::default(),
    };
    let mut tensors: Vec<(String, Tensor)> = model
        .parameters()
        .iter()
        .map(|p| (p.name().to_string(), p.value()))
        .collect();
    edit(&mut tensors, &mut meta);
    checkpoint::save(path, &tensors, Some(&meta)).unwrap();
}

fn set_tensor(tensors: &mut [(String, Tensor)], name: &str, change: impl FnOnce(&mut Vec<f32>)) {
    let (_, t) = tensors.iter_mut().find(|(n, _)| n == name).unwrap();
    let mut v = t.to_vec::<f32>().unwrap();
    change(&mut v);
    *t = Tensor::from_vec(t.dims(), v).unwrap();
}

/// Finding 6: every flag a mode would ignore is refused, naming it.
#[test]
fn flags_a_mode_would_ignore_are_refused() {
    let dir = scratch("flags");
    let run = dir.join("run");
    for flag in [["--gamma", "1"], ["--pool", "max"], ["--stride", "2"]] {
        let out = engine(&["eval", "--run", s(&run), flag[0], flag[1]]);
        let stderr = text(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("cannot be used with") && stderr.contains(flag[0]),
            "eval --run {flag:?}: {stderr}"
        );
    }
    let resume_flags: [&[&str]; 10] = [
        &["--batch", "4"],
        &["--accumulate", "2"],
        &["--lr-head", "0.1"],
        &["--lr-backbone", "0.1"],
        &["--seed", "3"],
        &["--init", "x.safetensors"],
        &["--reinit", "fc8"],
        &["--no-pretrain"],
        &["--pool-gamma", "1"],
        &["--reinforce-lr", "0.2"],
    ];
    for flag in resume_flags {
        let mut args = vec!["train", "--resume", s(&run)];
        args.extend_from_slice(flag);
        let out = engine(&args);
        let stderr = text(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("cannot be used with") && stderr.contains(flag[0]),
            "train --resume {flag:?}: {stderr}"
        );
    }
    let config = tiny_toml(&dir, 1);
    let out = engine(&[
        "train",
        "--config",
        s(&config),
        "--sampler",
        "uniform",
        "--gamma",
        "2",
        "--out",
        s(&run),
        "--quiet",
    ]);
    let stderr = assert_clean_error(&out, "--sampler uniform --gamma 2");
    assert!(stderr.contains("--gamma") && stderr.contains("uniform"), "{stderr}");
    assert!(!run.join("config.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 6 (--threads, --epochs): resuming with another thread count than the run's says that
/// results will no longer match an uninterrupted run; --epochs cannot reopen a finished run.
#[test]
fn a_resume_with_another_thread_count_warns() {
    let dir = scratch("threads");
    let config = tiny_toml(&dir, 1);
    let run = dir.join("run");
    let out = engine(&[
        "--threads",
        "1",
        "train",
        "--config",
        s(&config),
        "--out",
        s(&run),
        "--device",
        "cpu",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = engine(&[
        "--threads",
        "2",
        "train",
        "--resume",
        s(&run),
        "--device",
        "cpu",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("trained with 1 CPU threads") && stderr.contains("--threads 1"),
        "{stderr}"
    );
    // --epochs on a finished run would print its old result as if extended: refused.
    let out = engine(&["train", "--resume", s(&run), "--epochs", "3", "--quiet"]);
    let stderr = assert_clean_error(&out, "--resume --epochs 3 of a finished run");
    assert!(stderr.contains("cannot extend a finished run"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 7: NaN weights, or a γ beyond range, make predict and eval fail naming the cause.
#[test]
fn non_finite_scores_fail_naming_the_cause() {
    let dir = scratch("nonfinite");
    let video = dir.join("video");
    write_video(&video, 16, 32, 3);
    let root = dir.join("root");
    frame_root(&root, &[("test", 1)], &["Angry", "Happy"]);
    let nan = dir.join("nan.safetensors");
    crafted_checkpoint(&nan, |t, _| set_tensor(t, "fc8.bias", |v| v[0] = f32::NAN));
    let out = engine(&["predict", "--checkpoint", s(&nan), "--video", s(&video)]);
    let stderr = assert_clean_error(&out, "predict with NaN weights");
    assert!(stderr.contains("not finite") && stderr.contains("weights"), "{stderr}");
    let out = engine(&["eval", "--checkpoint", s(&nan), "--data", s(&root)]);
    let stderr = assert_clean_error(&out, "eval with NaN weights");
    assert!(stderr.contains("not finite") && stderr.contains("weights"), "{stderr}");

    let fine = dir.join("fine.safetensors");
    crafted_checkpoint(&fine, |_, _| {});
    let out = engine(&[
        "predict",
        "--checkpoint",
        s(&fine),
        "--video",
        s(&video),
        "--gamma",
        "1e39",
    ]);
    let stderr = assert_clean_error(&out, "predict --gamma 1e39");
    assert!(stderr.contains("out of range"), "{stderr}");
    let out = engine(&["eval", "--checkpoint", s(&fine), "--data", s(&root), "--gamma", "1e39"]);
    let stderr = assert_clean_error(&out, "eval --gamma 1e39");
    assert!(stderr.contains("out of range"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 10: Ctrl-C stops the run after the current batch, prints the resume hint, and the
/// exit status (130) tells a script the run did not finish.
#[test]
fn ctrl_c_exits_130_with_the_resume_hint() {
    let dir = scratch("ctrl-c");
    let config = tiny_toml(&dir, 40);
    let run = dir.join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stsm-engine"))
        .args([
            "train",
            "--config",
            s(&config),
            "--out",
            s(&run),
            "--device",
            "cpu",
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let started = Instant::now();
    while !seen.contains("epoch   1") {
        assert!(started.elapsed() < Duration::from_secs(120), "no epoch line: {seen}");
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            panic!("train ended before its first epoch: {seen}");
        }
        seen += &line;
    }
    // SAFETY: signals the child this test started, by its id.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains(&format!("--resume {}", run.display())), "{rest}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A change to a checkpoint's tensors or metadata before it is saved.
type MetaEdit = Box<dyn FnOnce(&mut Vec<(String, Tensor)>, &mut CheckpointMeta)>;

/// Finding 11: checkpoint metadata that disagrees with the tensors (class names, channel counts,
/// clip size) is an error before anything is allocated, never a panic or a huge allocation.
#[test]
fn checkpoint_metadata_is_checked_against_its_tensors() {
    let dir = scratch("meta");
    let video = dir.join("video");
    write_video(&video, 16, 32, 4);
    let cases: [(&str, MetaEdit, &str); 3] = [
        (
            "names.safetensors",
            // Three outputs, two names, and the third class certain to win.
            Box::new(|t, m| {
                let mut config = ModelConfig::preset("tiny-c3d", 3).unwrap();
                config.input = [16, 32, 32];
                let model = Model::seeded(config.clone(), DType::F32, 5).unwrap();
                *t = model
                    .parameters()
                    .iter()
                    .map(|p| (p.name().to_string(), p.value()))
                    .collect();
                set_tensor(t, "fc8.bias", |v| v[2] = 1e3);
                m.model = config;
            }),
            "2 class names for a model with 3 outputs",
        ),
        (
            "channels.safetensors",
            Box::new(|_, m| m.model.blocks[0].channels[0] = 1 << 40),
            "conv1.weight has shape",
        ),
        (
            "input.safetensors",
            Box::new(|_, m| m.model.input = [16, 1 << 31, 1 << 31]),
            "too large",
        ),
    ];
    for (name, edit, expected) in cases {
        let path = dir.join(name);
        crafted_checkpoint(&path, edit);
        let out = engine_within(&["predict", "--checkpoint", s(&path), "--video", s(&video)], SHORT);
        let stderr = assert_clean_error(&out, name);
        assert!(stderr.contains(expected) && stderr.contains(name), "{name}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 13: the temporary file is created new under a random name, so a symlink planted at
/// the old predictable name is not followed; a failed write leaves nothing behind.
#[test]
fn temporary_files_never_follow_a_planted_link_nor_stay_behind() {
    let dir = scratch("tmpfiles");
    let root = dir.join("root");
    frame_root(&root, &[("train", 1)], &["Angry", "Happy"]);
    let outdir = dir.join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let pack = outdir.join("train.stsmpack");
    std::os::unix::fs::symlink(&victim, outdir.join("train.stsmpack.tmp")).unwrap();
    let out = engine(&[
        "pack",
        "--root",
        s(&root),
        "--split",
        "train",
        "--out",
        s(&pack),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!std::fs::symlink_metadata(&pack).unwrap().file_type().is_symlink());
    assert_eq!(stsm_engine::data::Pack::open(&pack).unwrap().path(), pack.as_path());

    // --out naming a folder: an error, and no temporary left beside it.
    let listing = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let folder = outdir.join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    let before = listing(&outdir);
    let out = engine(&[
        "pack",
        "--root",
        s(&root),
        "--split",
        "train",
        "--out",
        s(&folder),
        "--quiet",
    ]);
    assert_clean_error(&out, "pack --out FOLDER");
    assert_eq!(listing(&outdir), before);
    assert!(listing(&folder).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finding 14: a checkpoint that never ends (/dev/zero, a FIFO) is refused at once, and requests
/// that cannot fit in memory fail up front with the size they need.
#[test]
fn never_ending_or_oversized_inputs_fail_up_front() {
    let dir = scratch("endless");
    let video = dir.join("video");
    write_video(&video, 2, 8, 6);
    let fifo = dir.join("fifo.safetensors");
    let c_path = std::ffi::CString::new(s(&fifo)).unwrap();
    // SAFETY: creates a FIFO at a path of this test's scratch directory.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    for ckpt in [Path::new("/dev/zero"), fifo.as_path()] {
        let out = engine_within(&["predict", "--checkpoint", s(ckpt), "--video", s(&video)], SHORT);
        let stderr = assert_clean_error(&out, s(ckpt));
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
    let out = engine_within(&["demo", "--batch", "100000000", "--steps", "1"], SHORT);
    let stderr = assert_clean_error(&out, "demo --batch 100000000");
    assert!(
        stderr.contains("--batch 100000000 needs at least") && stderr.contains("GiB"),
        "{stderr}"
    );
    let root = dir.join("root");
    frame_root(&root, &[("train", 1)], &["Angry", "Happy"]);
    let pack = dir.join("big.stsmpack");
    let out = engine_within(
        &[
            "pack",
            "--root",
            s(&root),
            "--split",
            "train",
            "--out",
            s(&pack),
            "--size",
            "200000x200000",
            "--quiet",
        ],
        SHORT,
    );
    let stderr = assert_clean_error(&out, "pack --size 200000x200000");
    assert!(stderr.contains("needs at least") && stderr.contains("GiB"), "{stderr}");
    assert!(!pack.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

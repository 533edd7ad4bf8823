//! Inputs built by the reliability tests (tests/reliability_*.rs): frame-folder datasets of
//! tiny PNGs, the stsm-engine binary run with a time limit, and scratch directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A fresh (emptied, created) scratch directory unique to this process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stsm-rel-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `frames` PNG frames of `size`×`size` in `dir` (1.png, 2.png, ...), pixel values from `seed`.
pub fn write_video(dir: &Path, frames: usize, size: u32, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for t in 0..frames {
        let pixels: Vec<u8> = (0..size * size * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        image::save_buffer(
            dir.join(format!("{}.png", t + 1)),
            &pixels,
            size,
            size,
            image::ColorType::Rgb8,
        )
        .unwrap();
    }
}

/// ROOT/<split>/<class>/<class>-<split>-<i>/ with `per_class` videos of 4 frames (8×8) each.
pub fn frame_root(root: &Path, splits: &[(&str, usize)], classes: &[&str]) {
    for (s, (split, per_class)) in splits.iter().enumerate() {
        for (k, class) in classes.iter().enumerate() {
            std::fs::create_dir_all(root.join(split).join(class)).unwrap();
            for i in 0..*per_class {
                let seed = (s * 1000 + k * 100 + i) as u64;
                write_video(
                    &root.join(split).join(class).join(format!("{class}-{split}-{i}")),
                    4,
                    8,
                    seed,
                );
            }
        }
    }
}

/// Runs the stsm-engine binary; a run past `limit` is killed (and the test fails).
pub fn engine_within(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stsm-engine"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stsm-engine");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "stsm-engine {args:?} still ran after {limit:?} (killed)\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn engine(args: &[&str]) -> Output {
    engine_within(args, Duration::from_secs(120))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An error exit (status 1) with a message, not a panic (101) or a signal.
pub fn assert_clean_error(out: &Output, what: &str) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: status {:?}\nstderr: {stderr}",
        out.status
    );
    assert!(
        stderr.contains("error:") && !stderr.contains("panicked"),
        "{what}: {stderr}"
    );
    stderr
}

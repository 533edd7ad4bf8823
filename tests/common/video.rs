//! Shared by the tests/video_*.rs suites: FFmpeg detection with a visible skip, a tiny synthetic
//! benchmark written as video files, and bad video files made from real ones.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use stsm_engine::data::image_io::{save_png, Frame};
use stsm_engine::data::synth::{encode_videos, generate, SynthConfig, SynthReport};
use stsm_engine::data::video_file::{encode_frames, ffmpeg_available, VideoFormat};

/// True when FFmpeg is installed; otherwise says so where `cargo test` shows it (the test
/// harness captures `eprintln!`, not direct writes to stderr).
pub fn have_ffmpeg() -> bool {
    let ok = ffmpeg_available();
    if !ok {
        let _ = writeln!(std::io::stderr(), "SKIP: ffmpeg not installed");
    }
    ok
}

pub fn tiny_synth() -> SynthConfig {
    SynthConfig {
        seed: 11,
        classes: 2,
        videos_per_class: 2,
        subjects: 3,
        test_subjects: 1,
        size: 32,
        min_frames: 16,
        max_frames: 18,
        min_segment_frames: 4,
        stills_per_class: 1,
        ..SynthConfig::default()
    }
}

/// The benchmark of `cfg` under `dir`, its videos written as `format` files.
pub fn synth_as(cfg: &SynthConfig, dir: &Path, format: VideoFormat) -> SynthReport {
    let report = generate(cfg, dir, 2, false).unwrap();
    encode_videos(dir, &report.truth, format, 2).unwrap();
    report
}

pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The bad files of every kind, each made from a real video: (file, words its error must hold).
pub fn bad_videos(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    std::fs::create_dir_all(dir).unwrap();
    let frames = tmp_frames(dir);
    let good = dir.join("good.mkv");
    encode_frames(&frames.join("%04d.png"), 10, VideoFormat::Mkv, &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.join("truncated.mkv");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let corrupt = dir.join("corrupt.mkv");
    let mut scrambled = bytes.clone();
    scrambled[..64].iter_mut().for_each(|b| *b = 0xA5);
    std::fs::write(&corrupt, &scrambled).unwrap();
    let audio = dir.join("audio.mkv");
    ffmpeg(&["-f", "lavfi", "-i", "sine=d=0.2", audio.to_str().unwrap()]);
    let zero = dir.join("zero.avi");
    ffmpeg(&[
        "-i",
        good.to_str().unwrap(),
        "-frames:v",
        "0",
        "-c:v",
        "ffv1",
        zero.to_str().unwrap(),
    ]);
    // The same FFV1 stream in AVI with its codec tag replaced by one no decoder knows.
    let avi = dir.join("ffv1.avi");
    ffmpeg(&["-i", good.to_str().unwrap(), "-c", "copy", avi.to_str().unwrap()]);
    let mut avi_bytes = std::fs::read(&avi).unwrap();
    let mut replaced = 0;
    for i in 0..avi_bytes.len() - 4 {
        if &avi_bytes[i..i + 4] == b"FFV1" {
            avi_bytes[i..i + 4].copy_from_slice(b"QQQQ");
            replaced += 1;
        }
    }
    assert!(replaced > 0);
    std::fs::remove_file(&avi).unwrap();
    let unknown = dir.join("unknown.avi");
    std::fs::write(&unknown, &avi_bytes).unwrap();
    let device = dir.join("device.mkv");
    std::os::unix::fs::symlink("/dev/zero", &device).unwrap();
    std::fs::remove_file(&good).unwrap();
    std::fs::remove_dir_all(&frames).unwrap();
    vec![
        (truncated, "corrupt or truncated"),
        (corrupt, "cannot be read as a video"),
        (audio, "no video stream"),
        (zero, "zero-frame"),
        (unknown, "unsupported codec"),
        (device, "not a regular file"),
    ]
}

pub fn tmp_frames(dir: &Path) -> PathBuf {
    let frames = dir.join("frames-for-bad");
    std::fs::create_dir_all(&frames).unwrap();
    for n in 0..12u8 {
        let data = (0..16 * 16 * 3)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(n * 13))
            .collect();
        save_png(&frames.join(format!("{n:04}.png")), &Frame::new(16, 16, data).unwrap()).unwrap();
    }
    frames
}

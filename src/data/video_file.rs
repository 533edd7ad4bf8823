//! Video files (.mp4 .avi .mkv .webm .mov) read and written through FFmpeg's own programs,
//! `ffprobe` and `ffmpeg`, found at run time (`STSM_FFPROBE` / `STSM_FFMPEG`, else on PATH):
//! decoded frames come back through a pipe as raw RGB (rgb24), so the build needs neither FFmpeg
//! nor its headers and a missing FFmpeg is an error only when a video file is read. Why this
//! route and not a binding to FFmpeg's libraries: docs/data.md.
//!
//! Decoding keeps every decoded frame once, in presentation order (`-fps_mode passthrough`, so
//! ffmpeg neither duplicates nor drops frames of a variable-frame-rate file); `fps` resamples by
//! timestamps with ffmpeg's `fps` filter; rotation metadata is applied by ffmpeg (autorotate)
//! before the optional resize.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::fsutil::{ensure_regular_file, AtomicFile};

/// File extensions read as video files (lower-cased).
pub const VIDEO_EXTENSIONS: [&str; 5] = ["mp4", "avi", "mkv", "webm", "mov"];

/// How to get FFmpeg, in every error that finds it missing.
pub const INSTALL_HINT: &str = "install FFmpeg with `scripts/install-system-deps.sh` (or `apt-get install ffmpeg` on \
     Debian/Ubuntu), or point STSM_FFMPEG and STSM_FFPROBE at the programs";

pub fn is_video_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// The program `name` (`ffmpeg` or `ffprobe`): the path in `env` if set, else the first on PATH.
fn program(name: &str, env: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::data(&p, format!("{env} names no file; {INSTALL_HINT}")))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::argument(
                "video",
                format!("`{name}` was not found on PATH; reading video files needs FFmpeg: {INSTALL_HINT}"),
            )
        })
}

/// Whether both FFmpeg programs can be found (tests skip without them).
pub fn ffmpeg_available() -> bool {
    program("ffmpeg", "STSM_FFMPEG").is_ok() && program("ffprobe", "STSM_FFPROBE").is_ok()
}

/// What to do while decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DecodeOptions {
    /// Resample to this many frames per second by timestamps; `None` keeps every decoded frame.
    pub fps: Option<f64>,
    /// (width, height) every frame is scaled to (bilinear, by ffmpeg); `None` keeps the
    /// displayed size (the stored size, its sides swapped by a 90° rotation).
    pub size: Option<(usize, usize)>,
}

/// A decoded video: `frames[t]` is (height, width, 3) u8 RGB.
#[derive(Clone, Debug)]
pub struct DecodedVideo {
    pub width: usize,
    pub height: usize,
    pub frames: Vec<Vec<u8>>,
}

/// The first video stream as ffprobe sees it.
#[derive(Clone, Debug, PartialEq)]
struct StreamInfo {
    width: usize,
    height: usize,
    /// Degrees from the display matrix (or the older `rotate` tag); 0 when absent.
    rotation: f64,
}

/// ffmpeg's messages, trimmed to a few lines for an error message.
fn tool_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let shown = lines.len().min(3);
    let mut msg = lines[lines.len() - shown..].join(" / ");
    if lines.len() > shown {
        msg = format!("... {msg}");
    }
    msg
}

fn run_error(path: &Path, tool: &Path, e: std::io::Error) -> Error {
    Error::data(path, format!("could not run {}: {e}; {INSTALL_HINT}", tool.display()))
}

/// Reads the first video stream's size, codec and rotation; every way a file can fail before
/// decoding (unreadable container, no video stream, unknown codec) is an error naming it.
fn probe(path: &Path) -> Result<StreamInfo> {
    let ffprobe = program("ffprobe", "STSM_FFPROBE")?;
    let out = Command::new(&ffprobe)
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg("stream=codec_name,codec_tag_string,width,height:stream_side_data=rotation:stream_tags=rotate")
        .args(["-of", "json"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| run_error(path, &ffprobe, e))?;
    if !out.status.success() {
        return Err(Error::data(
            path,
            format!(
                "cannot be read as a video (corrupt, truncated or not a video file): {}",
                tool_message(&out.stderr)
            ),
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::data(path, format!("ffprobe gave unreadable output: {e}")))?;
    let Some(stream) = json["streams"].as_array().and_then(|s| s.first()) else {
        return Err(Error::data(
            path,
            "has no video stream (an audio-only or non-video file)",
        ));
    };
    let codec = stream["codec_name"].as_str().unwrap_or("none");
    if codec == "none" || codec == "unknown" {
        return Err(Error::data(
            path,
            format!(
                "unsupported codec: FFmpeg knows no decoder for the video stream (codec tag `{}`)",
                stream["codec_tag_string"].as_str().unwrap_or("?")
            ),
        ));
    }
    let dim = |key: &str| stream[key].as_u64().unwrap_or(0) as usize;
    let (width, height) = (dim("width"), dim("height"));
    if width == 0 || height == 0 {
        return Err(Error::data(
            path,
            format!("the {codec} video stream has no frame size (a corrupt or truncated header)"),
        ));
    }
    let side_rotation = stream["side_data_list"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d["rotation"].as_f64());
    let tag_rotation = stream["tags"]["rotate"].as_str().and_then(|r| r.parse::<f64>().ok());
    Ok(StreamInfo {
        width,
        height,
        rotation: side_rotation.or(tag_rotation).unwrap_or(0.0),
    })
}

/// The size frames come out of ffmpeg at: autorotate swaps the sides of a quarter turn.
fn displayed_size(info: &StreamInfo) -> (usize, usize) {
    if (info.rotation.round() as i64).rem_euclid(180) == 90 {
        (info.height, info.width)
    } else {
        (info.width, info.height)
    }
}

/// Decodes the first video stream of `path` into RGB frames. A corrupt or truncated file, one
/// without a video stream or without frames, an unsupported codec, and a path that is not a
/// regular file are each an error naming the file and the reason. Any error-level message from
/// ffmpeg counts as corruption: a frame it could not decode would silently be missing.
pub fn decode(path: &Path, opts: &DecodeOptions) -> Result<DecodedVideo> {
    if !path.exists() {
        return Err(Error::data(path, "video file not found"));
    }
    ensure_regular_file(path)?;
    if let Some(fps) = opts.fps {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::argument("video", format!("--fps must be positive, got {fps}")));
        }
    }
    if let Some((w, h)) = opts.size {
        if w == 0 || h == 0 {
            return Err(Error::argument("video", "frame size must be at least 1x1"));
        }
    }
    let info = probe(path)?;
    let (width, height) = opts.size.unwrap_or_else(|| displayed_size(&info));
    let mut filters = Vec::new();
    if let Some(fps) = opts.fps {
        filters.push(format!("fps={fps}"));
    }
    if let Some((w, h)) = opts.size {
        filters.push(format!("scale={w}:{h}:flags=bilinear"));
    }
    let ffmpeg = program("ffmpeg", "STSM_FFMPEG")?;
    let mut cmd = Command::new(&ffmpeg);
    cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough"]);
    if !filters.is_empty() {
        cmd.arg("-vf").arg(filters.join(","));
    }
    cmd.args(["-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| run_error(path, &ffmpeg, e))?;
    // stderr is drained on its own thread so that a chatty ffmpeg never blocks on a full pipe.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let frame_len = width * height * 3;
    let mut frames = Vec::new();
    // Bytes of an incomplete last frame (0 when the stream ended on a frame boundary).
    let partial = loop {
        let mut frame = vec![0u8; frame_len];
        let got = read_full(&mut stdout, &mut frame).map_err(|e| Error::io(path, e))?;
        if got < frame_len {
            break got;
        }
        frames.push(frame);
    };
    drop(stdout);
    let status = child.wait().map_err(|e| run_error(path, &ffmpeg, e))?;
    let message = tool_message(&err_reader.join().unwrap_or_default());
    if message.contains("Decoder") && message.contains("not found") {
        return Err(Error::data(
            path,
            format!("unsupported codec: this FFmpeg has no decoder for it ({message})"),
        ));
    }
    if frames.is_empty() && partial == 0 {
        let said = if message.is_empty() {
            String::new()
        } else {
            format!(" (ffmpeg: {message})")
        };
        return Err(Error::data(
            path,
            format!("has a video stream but no frame could be decoded: a zero-frame video{said}"),
        ));
    }
    if !status.success() || !message.is_empty() || partial != 0 {
        return Err(Error::data(
            path,
            format!(
                "is corrupt or truncated: decoding failed after {} frames ({})",
                frames.len(),
                if message.is_empty() {
                    format!("a partial frame of {partial} bytes at the end")
                } else {
                    format!("ffmpeg: {message}")
                }
            ),
        ));
    }
    Ok(DecodedVideo { width, height, frames })
}

/// Fills `buf` unless the stream ends first; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The encodings `synth --format` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VideoFormat {
    /// FFV1 in Matroska: lossless, decodes bit-exactly to the frames drawn.
    Mkv,
    /// H.264 (libx264, CRF 18, yuv420p) in MP4: lossy, the usual camera and phone format.
    Mp4,
    /// MPEG-4 Part 2 (q 2, yuv420p) in AVI: lossy, the codec family of AFEW's clips.
    Avi,
}

impl VideoFormat {
    pub fn extension(self) -> &'static str {
        match self {
            VideoFormat::Mkv => "mkv",
            VideoFormat::Mp4 => "mp4",
            VideoFormat::Avi => "avi",
        }
    }

    fn muxer(self) -> &'static str {
        match self {
            VideoFormat::Mkv => "matroska",
            VideoFormat::Mp4 => "mp4",
            VideoFormat::Avi => "avi",
        }
    }

    fn codec_args(self) -> &'static [&'static str] {
        match self {
            // bgr0 is FFV1's RGB layout: no colour conversion, so nothing is lost.
            VideoFormat::Mkv => &["-c:v", "ffv1", "-level", "3", "-pix_fmt", "bgr0"],
            VideoFormat::Mp4 => &[
                "-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p",
            ],
            VideoFormat::Avi => &["-c:v", "mpeg4", "-q:v", "2", "-pix_fmt", "yuv420p"],
        }
    }
}

/// Encodes the image sequence `pattern` (an ffmpeg pattern such as `dir/%04d.png`, numbered
/// from 0) at `fps` into `out`, atomically: `out` appears complete or not at all.
pub fn encode_frames(pattern: &Path, fps: u32, format: VideoFormat, out: &Path) -> Result<()> {
    let ffmpeg = program("ffmpeg", "STSM_FFMPEG")?;
    let tmp = AtomicFile::create(out)?;
    let output = Command::new(&ffmpeg)
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y", "-framerate"])
        .arg(fps.to_string())
        .args(["-start_number", "0", "-i"])
        .arg(pattern)
        .args(format.codec_args())
        .args(["-f", format.muxer()])
        .arg(tmp.tmp_path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| run_error(out, &ffmpeg, e))?;
    if !output.status.success() {
        return Err(Error::data(
            out,
            format!(
                "ffmpeg could not encode {} as {}: {}",
                pattern.display(),
                format.extension(),
                tool_message(&output.stderr)
            ),
        ));
    }
    tmp.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_matched_without_case() {
        assert!(is_video_file(Path::new("a/clip.MP4")));
        assert!(is_video_file(Path::new("clip.webm")));
        assert!(!is_video_file(Path::new("frame.png")));
        assert!(!is_video_file(Path::new("mp4")));
    }

    #[test]
    fn a_quarter_turn_swaps_the_sides() {
        let info = |rotation| StreamInfo {
            width: 64,
            height: 48,
            rotation,
        };
        assert_eq!(displayed_size(&info(90.0)), (48, 64));
        assert_eq!(displayed_size(&info(-90.0)), (48, 64));
        assert_eq!(displayed_size(&info(270.0)), (48, 64));
        assert_eq!(displayed_size(&info(180.0)), (64, 48));
        assert_eq!(displayed_size(&info(0.0)), (64, 48));
    }
}

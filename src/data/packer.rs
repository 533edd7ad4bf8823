//! Building a pack from a discovered dataset: decode every frame once (image files, or video
//! files through FFmpeg), resize to the target size (or keep each video's native size), and
//! stream into a `PackWriter`.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::frames::{Discovery, Media, VideoEntry};
use crate::data::image_io::{load_rgb, resize, Interp};
use crate::data::pack::{Pack, PackWriter};
use crate::data::source::VideoMeta;
use crate::data::video_file::{decode, DecodeOptions};
use crate::error::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct PackOptions {
    /// (width, height) of every stored frame; `None` keeps each video at its first frame's size.
    pub size: Option<(usize, usize)>,
    pub interp: Interp,
    /// Skip unreadable frames and bad video files (listed in the report) instead of refusing
    /// the dataset.
    pub skip_bad: bool,
    /// Video files only: resample to this many frames per second by timestamps (`None`: every
    /// decoded frame). Frame folders have no timestamps and keep every frame.
    pub fps: Option<f64>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Videos decoded in parallel (0: one per core).
    pub threads: usize,
}

#[derive(Clone, Debug, Default)]
pub struct PackReport {
    pub videos: usize,
    pub frames: usize,
    pub bytes: u64,
    /// Frames that could not be decoded and were skipped (only with `skip_bad`).
    pub bad_frames: usize,
    /// Video files that could not be decoded, with the reason, skipped (only with `skip_bad`).
    pub skipped: Vec<SkippedFile>,
    pub warnings: Vec<String>,
}

/// A video file left out of a pack by `skip_bad`, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub reason: String,
}

/// One video decoded (and resized) in memory, ready to be written.
struct Decoded {
    meta: Option<VideoMeta>,
    frames: Vec<Vec<u8>>,
    bad: usize,
    warnings: Vec<String>,
}

fn meta_of(video: &VideoEntry, frames: usize, (width, height): (usize, usize)) -> VideoMeta {
    VideoMeta {
        id: video.id.clone(),
        label: video.label,
        subject: video.subject.clone(),
        split: video.split.clone(),
        frames,
        width,
        height,
    }
}

/// Decodes one video; independent of other videos, so videos decode in parallel.
fn decode_video(video: &VideoEntry, opts: &PackOptions, bar: &ProgressBar) -> Result<Decoded> {
    match &video.media {
        Media::Frames(frames) => decode_frame_folder(video, frames, opts, bar),
        Media::File(file) => {
            let decoded = decode(
                file,
                &DecodeOptions {
                    fps: opts.fps,
                    size: opts.size,
                },
            );
            bar.inc(1);
            let decoded = decoded?;
            Ok(Decoded {
                meta: Some(meta_of(video, decoded.frames.len(), (decoded.width, decoded.height))),
                frames: decoded.frames,
                bad: 0,
                warnings: Vec::new(),
            })
        }
    }
}

/// Decodes every frame image of one frame folder.
fn decode_frame_folder(
    video: &VideoEntry,
    paths: &[PathBuf],
    opts: &PackOptions,
    bar: &ProgressBar,
) -> Result<Decoded> {
    let mut out = Decoded {
        meta: None,
        frames: Vec::with_capacity(paths.len()),
        bad: 0,
        warnings: Vec::new(),
    };
    let mut size = opts.size;
    let mut warned_size = false;
    for path in paths {
        bar.inc(1);
        let frame = match load_rgb(path) {
            Ok(f) => f,
            Err(e) if opts.skip_bad => {
                out.bad += 1;
                out.warnings.push(format!("skipped: {e}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        // Native size: the first readable frame fixes the video's size.
        let (w, h) = *size.get_or_insert((frame.width, frame.height));
        if (frame.width, frame.height) == (w, h) {
            out.frames.push(frame.data);
            continue;
        }
        if opts.size.is_none() && !warned_size {
            out.warnings.push(format!(
                "video {}: frames of mixed sizes ({} is {}x{}, the first is {w}x{h}); resized to {w}x{h}",
                video.id,
                path.display(),
                frame.width,
                frame.height
            ));
            warned_size = true;
        }
        out.frames.push(resize(&frame, w, h, opts.interp).data);
    }
    match size {
        Some(size) if !out.frames.is_empty() => out.meta = Some(meta_of(video, out.frames.len(), size)),
        _ => out
            .warnings
            .push(format!("video {}: no readable frame, skipped", video.id)),
    }
    Ok(out)
}

/// Packs every video of `discovery` into `out`. Nothing appears under `out` unless all succeeded.
/// Videos are decoded `threads` at a time (0: one per core) and written in their original order.
/// A video that fails does not stop the others from being decoded, so that the error lists
/// every bad file at once; with `skip_bad` the bad video files are left out and listed in the
/// report instead.
pub fn pack_dataset(discovery: &Discovery, out: &Path, opts: &PackOptions) -> Result<PackReport> {
    if let Some((w, h)) = opts.size {
        if w == 0 || h == 0 {
            return Err(Error::argument("pack", "frame size must be at least 1x1"));
        }
    }
    let mut report = PackReport {
        warnings: discovery.warnings.clone(),
        ..Default::default()
    };
    // Frame folders count progress in frames; a video file's frame count is known only once it
    // is decoded, so a dataset with video files counts videos.
    let all_folders = discovery.videos.iter().all(|v| matches!(v.media, Media::Frames(_)));
    let (total, unit) = if all_folders {
        (discovery.videos.iter().map(|v| v.files().len()).sum(), "frames")
    } else {
        (discovery.videos.len(), "videos")
    };
    let bar = if opts.progress {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
        ))
        .map_err(|e| Error::argument("pack", format!("progress template: {e}")))?
        .progress_chars("=> "),
    );
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Decoding holds `threads` whole videos at the stored size: refuse up front what cannot fit.
    if let Some((w, h)) = opts.size {
        // A video file's length is unknown before decoding; frame folders bound the check.
        let longest = discovery.videos.iter().map(|v| v.files().len()).max().unwrap_or(0);
        crate::resources::ensure_fits(
            "pack",
            &format!(
                "--size {w}x{h} ({} videos of up to {longest} frames decoded at once)",
                threads.min(discovery.videos.len().max(1))
            ),
            crate::resources::product(&[w, h, 3, longest, threads.min(discovery.videos.len().max(1))]),
        )?;
    }
    let mut writer = PackWriter::create(out, discovery.classes.clone())?;
    let mut failures: Vec<SkippedFile> = Vec::new();
    // A chunk of `threads` videos is decoded in parallel, then written in order; memory holds at
    // most one chunk of decoded videos.
    for chunk in discovery.videos.chunks(threads) {
        let decoded: Vec<Result<Decoded>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|v| scope.spawn(|| decode_video(v, opts, &bar)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::argument("pack", "a decoding thread panicked")))
                })
                .collect()
        });
        for (video, d) in chunk.iter().zip(decoded) {
            let d = match d {
                Ok(d) => d,
                Err(e) => {
                    let path = match &video.media {
                        Media::File(file) => file.clone(),
                        Media::Frames(frames) => frames
                            .first()
                            .and_then(|f| f.parent())
                            .map(Path::to_path_buf)
                            .unwrap_or_default(),
                    };
                    failures.push(SkippedFile {
                        reason: e.to_string(),
                        path,
                    });
                    continue;
                }
            };
            if !failures.is_empty() && !opts.skip_bad {
                // The pack will be refused: keep decoding only to list every bad file.
                continue;
            }
            report.bad_frames += d.bad;
            report.warnings.extend(d.warnings);
            let Some(meta) = d.meta else { continue };
            report.videos += 1;
            report.frames += d.frames.len();
            report.bytes += (meta.frames * meta.width * meta.height * 3) as u64;
            writer.begin_video(meta);
            for f in &d.frames {
                writer.push_frame(f)?;
            }
        }
    }
    bar.finish_and_clear();
    if !failures.is_empty() && !opts.skip_bad {
        // Dropping the unfinished writer removes its temporary file: nothing half-written.
        drop(writer);
        let list: Vec<String> = failures.iter().map(|f| format!("  {}", f.reason)).collect();
        return Err(Error::data(
            out,
            format!(
                "not written: {} of {} videos cannot be read (pass --skip-bad to pack the rest):\n{}",
                failures.len(),
                discovery.videos.len(),
                list.join("\n")
            ),
        ));
    }
    if report.videos == 0 && !failures.is_empty() {
        drop(writer);
        return Err(Error::data(
            out,
            format!("not written: none of the {} videos can be read", failures.len()),
        ));
    }
    writer.finish()?;
    report.skipped = failures;
    Ok(report)
}

/// Packs `discovery` into a temporary file and opens it: the memory map keeps the frames after
/// the file's name is removed, so nothing is left on disk (the way `eval` and `predict` read
/// video files, which cannot be read frame by frame).
pub fn pack_temporary(discovery: &Discovery, opts: &PackOptions) -> Result<Pack> {
    let dir = std::env::temp_dir();
    let nonce: u64 = rand::random();
    let path = dir.join(format!("stsm-decoded-{}-{nonce:016x}.stsmpack", std::process::id()));
    let packed = pack_dataset(discovery, &path, opts).and_then(|report| {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        Pack::open(&path)
    });
    let _ = std::fs::remove_file(&path);
    packed
}

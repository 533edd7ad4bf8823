//! Building a pack from a discovered dataset: decode every frame once, resize to the target size
//! (or keep each video's native size), and stream into a `PackWriter`.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::frames::{Discovery, VideoEntry};
use crate::data::image_io::{load_rgb, resize, Interp};
use crate::data::pack::PackWriter;
use crate::data::source::VideoMeta;
use crate::error::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct PackOptions {
    /// (width, height) of every stored frame; `None` keeps each video at its first frame's size.
    pub size: Option<(usize, usize)>,
    pub interp: Interp,
    /// Skip unreadable frames (counted in the report) instead of failing on the first.
    pub skip_bad: bool,
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
    pub warnings: Vec<String>,
}

/// One video decoded (and resized) in memory, ready to be written.
struct Decoded {
    meta: Option<VideoMeta>,
    frames: Vec<Vec<u8>>,
    bad: usize,
    warnings: Vec<String>,
}

/// Decodes every frame of one video; independent of other videos, so videos decode in parallel.
fn decode_video(video: &VideoEntry, opts: &PackOptions, bar: &ProgressBar) -> Result<Decoded> {
    let mut out = Decoded {
        meta: None,
        frames: Vec::with_capacity(video.frames.len()),
        bad: 0,
        warnings: Vec::new(),
    };
    let mut size = opts.size;
    let mut warned_size = false;
    for path in &video.frames {
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
        Some((width, height)) if !out.frames.is_empty() => {
            out.meta = Some(VideoMeta {
                id: video.id.clone(),
                label: video.label,
                subject: video.subject.clone(),
                split: video.split.clone(),
                frames: out.frames.len(),
                width,
                height,
            })
        }
        _ => out
            .warnings
            .push(format!("video {}: no readable frame, skipped", video.id)),
    }
    Ok(out)
}

/// Packs every video of `discovery` into `out`. Nothing appears under `out` unless all succeeded.
/// Videos are decoded `threads` at a time (0: one per core) and written in their original order.
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
    let total: usize = discovery.videos.iter().map(|v| v.frames.len()).sum();
    let bar = if opts.progress {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} frames ({per_sec}, eta {eta})")
            .map_err(|e| Error::argument("pack", format!("progress template: {e}")))?
            .progress_chars("=> "),
    );
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Decoding holds `threads` whole videos at the stored size: refuse up front what cannot fit.
    if let Some((w, h)) = opts.size {
        let longest = discovery.videos.iter().map(|v| v.frames.len()).max().unwrap_or(0);
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
        for d in decoded {
            let d = d?;
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
    writer.finish()?;
    bar.finish_and_clear();
    Ok(report)
}

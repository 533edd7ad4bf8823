//! Building a pack from a discovered dataset: decode every frame once, resize to the target size
//! (or keep each video's native size), and stream into a `PackWriter`.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::frames::Discovery;
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

/// Packs every video of `discovery` into `out`. Nothing appears under `out` unless all succeeded.
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
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} frames ({per_sec}, eta {eta}) {msg}")
            .map_err(|e| Error::argument("pack", format!("progress template: {e}")))?
            .progress_chars("=> "),
    );
    let mut writer = PackWriter::create(out, discovery.classes.clone())?;
    for video in &discovery.videos {
        bar.set_message(video.id.clone());
        let mut size = opts.size;
        let mut warned_size = false;
        let mut started = false;
        for path in &video.frames {
            bar.inc(1);
            let frame = match load_rgb(path) {
                Ok(f) => f,
                Err(e) if opts.skip_bad => {
                    report.bad_frames += 1;
                    report.warnings.push(format!("skipped: {e}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            // Native size: the first readable frame fixes the video's size.
            let (w, h) = *size.get_or_insert((frame.width, frame.height));
            if !started {
                writer.begin_video(VideoMeta {
                    id: video.id.clone(),
                    label: video.label,
                    subject: video.subject.clone(),
                    split: video.split.clone(),
                    frames: 0,
                    width: w,
                    height: h,
                });
                started = true;
            }
            if (frame.width, frame.height) != (w, h) {
                if opts.size.is_none() && !warned_size {
                    report.warnings.push(format!(
                        "video {}: frames of mixed sizes ({} is {}x{}, the first is {w}x{h}); resized to {w}x{h}",
                        video.id,
                        path.display(),
                        frame.width,
                        frame.height
                    ));
                    warned_size = true;
                }
                writer.push_frame(&resize(&frame, w, h, opts.interp).data)?;
            } else {
                writer.push_frame(&frame.data)?;
            }
            report.frames += 1;
            report.bytes += (w * h * 3) as u64;
        }
        if started {
            report.videos += 1;
        } else {
            report
                .warnings
                .push(format!("video {}: no readable frame, skipped", video.id));
        }
        writer.abandon_empty_video();
    }
    writer.finish()?;
    bar.finish_and_clear();
    Ok(report)
}

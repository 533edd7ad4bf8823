//! `stsm-engine pack`: decodes (and optionally resizes) every frame of a dataset — frame folders
//! or video files — once into a packed file that training memory-maps; with --skip-bad, the
//! video files left out are listed in the pack's report `OUT.report.json`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::data::frames::{discover_split, Media};
use crate::data::image_io::Interp;
use crate::data::manifest::load_manifest;
use crate::data::packer::{pack_dataset, PackOptions, SkippedFile};
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;

/// What `pack --skip-bad` writes beside the pack: what went in and what was left out.
#[derive(serde::Serialize)]
struct PackFileReport<'a> {
    videos: usize,
    frames: usize,
    bad_frames: usize,
    skipped_files: &'a [SkippedFile],
    warnings: &'a [String],
}

#[derive(Args, Debug)]
pub struct PackArgs {
    /// AFEW-layout root: ROOT/<split>/<Class>/<video_id>/*.png|jpg, or video files
    /// ROOT/<split>/<Class>/<video_id>.mp4|avi|mkv|webm|mov (decoded by FFmpeg).
    #[arg(long, conflicts_with = "manifest")]
    root: Option<PathBuf>,
    /// CSV manifest (path,label,subject[,split]) instead of a root.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Split to pack (a sub-folder of ROOT, or the manifest's split column; all rows if omitted
    /// with a manifest).
    #[arg(long)]
    split: Option<String>,
    /// Comma-separated class list (label order); default: folder names / manifest labels sorted.
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// Output pack file.
    #[arg(long)]
    out: PathBuf,
    /// Store frames at WxH (e.g. 72x72); default: each video's native size.
    #[arg(long, value_parser = parse_size)]
    size: Option<(usize, usize)>,
    #[arg(long, value_enum, default_value_t = Interp::Bilinear)]
    interp: Interp,
    /// Video files: resample to F frames per second by timestamps (default: every decoded frame).
    #[arg(long, value_name = "F")]
    fps: Option<f64>,
    /// Pack the readable videos and frames, listing what was skipped in OUT.report.json, instead
    /// of refusing a dataset with bad files (all of which the refusal lists).
    #[arg(long)]
    skip_bad: bool,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_size(s: &str) -> std::result::Result<(usize, usize), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or("expected WxH, e.g. 72x72")?;
    Ok((
        w.trim().parse().map_err(|_| "bad width")?,
        h.trim().parse().map_err(|_| "bad height")?,
    ))
}

pub fn run(args: &PackArgs) -> Result<()> {
    let classes = args.classes.as_deref();
    let discovery = match (&args.root, &args.manifest) {
        (Some(root), None) => {
            let split = args
                .split
                .as_deref()
                .ok_or_else(|| Error::argument("pack", "--root needs --split"))?;
            discover_split(root, split, classes)?
        }
        (None, Some(m)) => load_manifest(m, classes, args.split.as_deref())?,
        _ => return Err(Error::argument("pack", "give exactly one of --root and --manifest")),
    };
    if args.fps.is_some() && !discovery.videos.iter().any(|v| matches!(v.media, Media::File(_))) {
        return Err(Error::argument(
            "pack",
            "--fps applies to video files, and this dataset has none (frame folders have no timestamps)",
        ));
    }
    let t0 = Instant::now();
    let opts = PackOptions {
        size: args.size,
        interp: args.interp,
        skip_bad: args.skip_bad,
        fps: args.fps,
        progress: !args.quiet,
        // The global --threads sets the pool; decoding uses as many threads.
        threads: rayon::current_num_threads(),
    };
    let report = pack_dataset(&discovery, &args.out, &opts)?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "pack: {} videos, {} frames, {:.1} MiB in {:.1}s -> {}",
        report.videos,
        report.frames,
        report.bytes as f64 / (1 << 20) as f64,
        t0.elapsed().as_secs_f64(),
        args.out.display()
    );
    if args.skip_bad {
        let report_path = PathBuf::from(format!("{}.report.json", args.out.display()));
        let json = serde_json::to_vec_pretty(&PackFileReport {
            videos: report.videos,
            frames: report.frames,
            bad_frames: report.bad_frames,
            skipped_files: &report.skipped,
            warnings: &report.warnings,
        })
        .map_err(|e| Error::data(&report_path, e.to_string()))?;
        write_atomically(&report_path, |f| std::io::Write::write_all(f, &json))?;
        println!(
            "pack: {} unreadable frames and {} bad video files skipped (listed in {})",
            report.bad_frames,
            report.skipped.len(),
            report_path.display()
        );
        for s in &report.skipped {
            eprintln!("skipped: {}", s.reason);
        }
    }
    Ok(())
}

//! `stsm-engine synth --out DIR`: writes the synthetic FER benchmark (frame folders or, with
//! --format mp4|avi|mkv, video files through FFmpeg; manifest, ground-truth sidecar, stills).
//! Knobs and defaults: docs/synth.md.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::data::synth::{encode_videos, generate, SynthConfig, SYNTH_FPS};
use crate::data::video_file::VideoFormat;
use crate::error::Result;

/// How the videos are written: frame folders of PNGs, or one video file each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SynthFormat {
    /// Frame folders `<video_id>/0000.png ...`.
    Png,
    /// H.264 in MP4 (lossy).
    Mp4,
    /// MPEG-4 Part 2 in AVI (lossy).
    Avi,
    /// FFV1 in Matroska (lossless: decodes to exactly the frames drawn).
    Mkv,
}

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output folder (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of classes (1 to 7).
    #[arg(long, default_value_t = 7)]
    classes: usize,
    #[arg(long, default_value_t = 40)]
    videos_per_class: usize,
    #[arg(long, default_value_t = 24)]
    subjects: usize,
    /// Subjects seen only in the test split.
    #[arg(long, default_value_t = 6)]
    test_subjects: usize,
    /// Frame width and height in pixels.
    #[arg(long, default_value_t = 72)]
    size: usize,
    #[arg(long, default_value_t = 24)]
    min_frames: usize,
    #[arg(long, default_value_t = 128)]
    max_frames: usize,
    /// Largest fraction of a video's frames the expressive segment may cover.
    #[arg(long, default_value_t = 0.30)]
    segment_max_fraction: f64,
    #[arg(long, default_value_t = 0.15)]
    segment_min_fraction: f64,
    #[arg(long, default_value_t = 0.3)]
    occlusion_prob: f64,
    #[arg(long, default_value_t = 0.3)]
    distractor_prob: f64,
    /// Per-pixel Gaussian noise (std on the [0, 1] scale).
    #[arg(long, default_value_t = 0.02)]
    noise: f32,
    /// Head-motion std per frame (face units).
    #[arg(long, default_value_t = 0.01)]
    camera_jitter: f32,
    #[arg(long, default_value_t = 40)]
    stills_per_class: usize,
    /// Strength of every expression (1 = default; the difficulty knob).
    #[arg(long, default_value_t = 1.0)]
    expression_scale: f32,
    /// Write each video as frame folders (png) or as a video file through FFmpeg.
    #[arg(long, value_enum, default_value_t = SynthFormat::Png)]
    format: SynthFormat,
    /// Which benchmark: expression (the FER benchmark, the flags above), pain (BioVid-like: 48
    /// subjects, 64-frame videos of BL1 / PA3 / PA4) or unbc (UNBC-like: 10 subjects, 48–200
    /// frames, BL1 : PA4 = 60 : 36). The pain tasks take only --seed, --size, --noise,
    /// --camera-jitter, --stills-per-class and --expression-scale from the flags; their other
    /// knobs are in docs/synth.md (set through a config's [synth] table).
    #[arg(long, value_enum, default_value = "expression")]
    task: Task,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Task {
    Expression,
    Pain,
    Unbc,
}

pub fn run(args: &SynthArgs) -> Result<()> {
    let cfg = match args.task {
        Task::Expression => expression(args),
        Task::Pain | Task::Unbc => SynthConfig {
            seed: args.seed,
            size: args.size,
            noise: args.noise,
            camera_jitter: args.camera_jitter,
            stills_per_class: args.stills_per_class,
            expression_scale: args.expression_scale,
            ..if matches!(args.task, Task::Pain) {
                SynthConfig::pain_biovid()
            } else {
                SynthConfig::pain_unbc()
            }
        },
    };
    generate_and_report(&cfg, args)
}

fn expression(args: &SynthArgs) -> SynthConfig {
    SynthConfig {
        seed: args.seed,
        classes: args.classes,
        videos_per_class: args.videos_per_class,
        subjects: args.subjects,
        test_subjects: args.test_subjects,
        size: args.size,
        min_frames: args.min_frames,
        max_frames: args.max_frames,
        segment_min_fraction: args.segment_min_fraction,
        segment_max_fraction: args.segment_max_fraction,
        occlusion_prob: args.occlusion_prob,
        distractor_prob: args.distractor_prob,
        noise: args.noise,
        camera_jitter: args.camera_jitter,
        stills_per_class: args.stills_per_class,
        expression_scale: args.expression_scale,
        ..SynthConfig::default()
    }
}

fn generate_and_report(cfg: &SynthConfig, args: &SynthArgs) -> Result<()> {
    let t0 = Instant::now();
    let report = generate(cfg, &args.out, rayon::current_num_threads(), !args.quiet)?;
    let video_format = match args.format {
        SynthFormat::Png => None,
        SynthFormat::Mp4 => Some(VideoFormat::Mp4),
        SynthFormat::Avi => Some(VideoFormat::Avi),
        SynthFormat::Mkv => Some(VideoFormat::Mkv),
    };
    if let Some(format) = video_format {
        encode_videos(&args.out, &report.truth, format, rayon::current_num_threads())?;
        println!("synth: videos encoded as .{} at {SYNTH_FPS} fps", format.extension());
    }
    let n = report.truth.videos.len() as f64;
    let informative: f64 = report
        .truth
        .videos
        .iter()
        .map(|v| v.informative_fraction())
        .sum::<f64>()
        / n;
    let apex: f64 = report.truth.videos.iter().map(|v| v.apex_hit_fraction(16)).sum::<f64>() / n;
    println!(
        "synth: {} videos ({} frames, {}x{}), {} stills in {:.1}s -> {}",
        report.videos,
        report.frames,
        cfg.size,
        cfg.size,
        report.stills,
        t0.elapsed().as_secs_f64(),
        args.out.display()
    );
    println!(
        "synth: mean informative fraction {:.3}; mean fraction of uniform 16-frame clips holding the apex {:.3}",
        informative, apex
    );
    Ok(())
}

//! Writes the synthetic benchmark to disk:
//! ```text
//! OUT/videos/<split>/<Class>/<video_id>/0000.png ...   AFEW layout (split: train, test)
//! OUT/manifest.csv                                     path,label,subject,split
//! OUT/ground_truth.json                                config + per-video truth (sidecar)
//! OUT/stills/<Label>/<id>.png, OUT/stills/labels.csv   2D pretraining set (train subjects only)
//! ```
//! `encode_videos` then replaces each frame folder by a video file `<video_id>.<mp4|avi|mkv>`.

use std::fmt::Write as _;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::augment::mix_seed;
use crate::data::image_io::save_png;
use crate::data::synth::{
    plan, render_still, render_video, subject_name, train_subjects, GroundTruth, SynthConfig, VideoTruth,
};
use crate::data::video_file::{encode_frames, VideoFormat};
use crate::error::{Error, Result};

/// Frame rate of the synthetic videos when written as video files.
pub const SYNTH_FPS: u32 = 25;

#[derive(Clone, Debug)]
pub struct SynthReport {
    pub videos: usize,
    pub frames: usize,
    pub stills: usize,
    pub truth: GroundTruth,
}

fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

/// Generates the benchmark into `out`, which must not exist or be empty (so two runs never mix).
/// `threads` renders videos in parallel (0 = one per core).
pub fn generate(cfg: &SynthConfig, out: &Path, threads: usize, progress: bool) -> Result<SynthReport> {
    cfg.validate()?;
    if out.exists() && std::fs::read_dir(out).map_err(|e| Error::io(out, e))?.next().is_some() {
        return Err(Error::data(out, "output folder exists and is not empty"));
    }
    mkdir(out)?;
    let videos = plan(cfg)?;
    let total: usize = videos.iter().map(|v| v.frames).sum();
    let bar = if progress {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} frames ({per_sec})") {
        bar.set_style(style.progress_chars("=> "));
    }
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let (videos, bar) = (&videos, &bar);
                scope.spawn(move || -> Result<()> {
                    for (i, v) in videos.iter().enumerate().skip(w).step_by(threads) {
                        let dir = out.join("videos").join(&v.split).join(&v.class).join(&v.id);
                        mkdir(&dir)?;
                        for (t, frame) in render_video(cfg, i, v)?.iter().enumerate() {
                            save_png(&dir.join(format!("{t:04}.png")), frame)?;
                            bar.inc(1);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::argument("synth", "a thread panicked")))
            })
            .collect()
    });
    results.into_iter().collect::<Result<Vec<()>>>()?;
    bar.finish_and_clear();

    write_manifest(out, &videos, "")?;

    let stills = write_stills(cfg, &out.join("stills"))?;
    let truth = GroundTruth {
        generator: format!("stsm-engine {} synth", env!("CARGO_PKG_VERSION")),
        config: cfg.clone(),
        classes: cfg.class_names(),
        videos,
    };
    truth.save(&out.join("ground_truth.json"))?;
    Ok(SynthReport {
        videos: truth.videos.len(),
        frames: total,
        stills,
        truth,
    })
}

/// `OUT/manifest.csv`, each video's path followed by `suffix` (`.mkv` once encoded).
fn write_manifest(out: &Path, videos: &[VideoTruth], suffix: &str) -> Result<()> {
    let mut manifest = String::from("path,label,subject,split\n");
    for v in videos {
        let _ = writeln!(
            manifest,
            "videos/{}/{}/{}{suffix},{},{},{}",
            v.split, v.class, v.id, v.class, v.subject, v.split
        );
    }
    let path = out.join("manifest.csv");
    crate::fsutil::write_atomically(&path, |f| std::io::Write::write_all(f, manifest.as_bytes()))
}

/// Replaces every frame folder `generate` wrote under `out` by a video file of `format` beside
/// it (`<video_id>.<ext>`, at `SYNTH_FPS`), `threads` videos at a time (0: one per core), and
/// points the manifest at the files. Each file appears whole (written under a temporary name).
pub fn encode_videos(out: &Path, truth: &GroundTruth, format: VideoFormat, threads: usize) -> Result<()> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                scope.spawn(move || -> Result<()> {
                    for v in truth.videos.iter().skip(w).step_by(threads) {
                        let class_dir = out.join("videos").join(&v.split).join(&v.class);
                        let frames = class_dir.join(&v.id);
                        let file = class_dir.join(format!("{}.{}", v.id, format.extension()));
                        encode_frames(&frames.join("%04d.png"), SYNTH_FPS, format, &file)?;
                        std::fs::remove_dir_all(&frames).map_err(|e| Error::io(&frames, e))?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::argument("synth", "a thread panicked")))
            })
            .collect()
    });
    results.into_iter().collect::<Result<Vec<()>>>()?;
    write_manifest(out, &truth.videos, &format!(".{}", format.extension()))
}

/// Apex-like and neutral stills from training subjects only, so a 2D model pretrained on them
/// has never seen a test subject.
fn write_stills(cfg: &SynthConfig, dir: &Path) -> Result<usize> {
    let subjects = train_subjects(cfg);
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(cfg.seed, 5, 0));
    let mut labels = String::from("path,label,subject\n");
    // The pain stand-in's stills: its grimace and neutral faces.
    let names = match cfg.pain {
        Some(_) => vec!["Grimace".to_string()],
        None => cfg.class_names(),
    };
    let mut count = 0;
    for class in (0..names.len()).map(Some).chain(std::iter::once(None)) {
        let name = class.map_or("Neutral", |c| names[c].as_str());
        mkdir(&dir.join(name))?;
        for k in 0..cfg.stills_per_class {
            let s = subjects[rng.gen_range(0..subjects.len())];
            let frame = render_still(cfg, s, class, &mut rng);
            let rel = format!("{name}/{name}-{k:04}.png");
            save_png(&dir.join(&rel), &frame)?;
            let _ = writeln!(labels, "{rel},{name},{}", subject_name(s));
            count += 1;
        }
    }
    let path = dir.join("labels.csv");
    crate::fsutil::write_atomically(&path, |f| std::io::Write::write_all(f, labels.as_bytes()))?;
    Ok(count)
}

//! `stsm-engine predict`: scores every window of one video (a folder of frames) with a
//! checkpoint, pools the window scores per class, and prints the class probabilities and the
//! predicted label — or, with --json, everything including each window's scores and pooling
//! weights; --png draws the window scores over time.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::checkpoint_args::BareCheckpointArgs;
use super::scoring_args::ScoringArgs;
use crate::data::frames::{list_frames, Discovery, VideoEntry};
use crate::data::{FolderSource, Interp};
use crate::error::{Error, Result};
use crate::infer::loaded::LoadedModel;
use crate::infer::pooling::Pooling;
use crate::infer::scorer::{score_video, FrameReader, ScoreOptions, SourceFrames, VideoScores, DEFAULT_CHUNK_FRAMES};
use crate::report::{window_scores, WindowScoresPlot};

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A checkpoint written by stsm-engine (its metadata gives model, classes, preprocessing, γ).
    #[arg(long)]
    checkpoint: PathBuf,
    /// A folder of frames (png/jpg, natural order: 2.png before 10.png).
    #[arg(long)]
    video: PathBuf,
    #[command(flatten)]
    scoring: ScoringArgs,
    /// VGG-style models: frames per forward pass (memory stays bounded; 0 = whole video at once).
    #[arg(long, default_value_t = DEFAULT_CHUNK_FRAMES)]
    chunk_frames: usize,
    /// Print JSON (probabilities, per-window scores and pooling weights) instead of text.
    #[arg(long)]
    json: bool,
    /// Draw the per-window class scores over time into this PNG.
    #[arg(long)]
    png: Option<PathBuf>,
    #[command(flatten)]
    bare: BareCheckpointArgs,
}

/// What `predict --json` prints.
#[derive(Debug, Serialize)]
pub struct Prediction {
    pub video: String,
    pub frames: usize,
    pub model: String,
    pub classes: Vec<String>,
    pub pooling: String,
    /// Softmax pooling γ; null for max pooling.
    pub gamma: Option<f64>,
    /// Pooled class scores (logits).
    pub pooled: Vec<f64>,
    /// Softmax of the pooled scores.
    pub probabilities: Vec<f64>,
    pub predicted: String,
    pub predicted_index: usize,
    pub window_len: usize,
    /// Start frame of every scored window.
    pub window_starts: Vec<usize>,
    /// (classes, windows): each window's class scores.
    pub window_scores: Vec<Vec<f64>>,
    /// (classes, windows): each class's pooling weights over the windows (rows sum to 1).
    pub window_weights: Vec<Vec<f64>>,
}

/// One frame folder as a one-video source with the checkpoint's classes.
fn frame_folder(dir: &Path, classes: &[String]) -> Result<FolderSource> {
    if !dir.is_dir() {
        return Err(Error::data(dir, "is not a folder of frames"));
    }
    let frames = list_frames(dir)?;
    if frames.is_empty() {
        return Err(Error::data(dir, "has no frame images (png or jpg)"));
    }
    let discovery = Discovery {
        classes: classes.to_vec(),
        videos: vec![VideoEntry {
            id: dir.display().to_string(),
            label: 0,
            subject: None,
            split: None,
            frames,
        }],
        warnings: Vec::new(),
    };
    FolderSource::new(discovery, None, Interp::Bilinear)
}

fn softmax(x: &[f64]) -> Vec<f64> {
    let top = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - top).exp()).collect();
    let total: f64 = e.iter().sum();
    e.iter().map(|v| v / total).collect()
}

/// Scores `args.video` with the checkpoint.
pub fn predict(args: &PredictArgs) -> Result<Prediction> {
    let loaded = LoadedModel::load(&args.checkpoint, args.bare.meta()?, args.scoring.device)?;
    let pooling = args.scoring.pooling(loaded.default_gamma())?;
    let source = frame_folder(&args.video, &loaded.meta.classes)?;
    let reader = SourceFrames {
        source: &source,
        video: 0,
        augment: &loaded.augment,
    };
    let options = ScoreOptions {
        chunk_frames: args.chunk_frames,
        keep_windows: true,
        ..ScoreOptions::new(loaded.clip_len(), args.scoring.stride, pooling)
    };
    let VideoScores { pooled, windows } = score_video(&loaded.model, &reader, &options)?;
    let windows = windows.ok_or_else(|| Error::argument("predict", "the scorer returned no window scores"))?;
    let probabilities = softmax(&pooled);
    let predicted_index = probabilities
        .iter()
        .enumerate()
        .fold(0, |best, (k, &p)| if p > probabilities[best] { k } else { best });
    Ok(Prediction {
        video: args.video.display().to_string(),
        frames: reader.frames(),
        model: loaded.meta.model.preset.clone(),
        classes: loaded.meta.classes.clone(),
        pooling: pooling.to_string(),
        gamma: match pooling {
            Pooling::Softmax { gamma } => Some(gamma),
            Pooling::Max => None,
        },
        pooled,
        probabilities,
        predicted: loaded.meta.classes[predicted_index].clone(),
        predicted_index,
        window_len: windows.len,
        window_starts: windows.starts,
        window_scores: windows.scores,
        window_weights: windows.weights,
    })
}

/// The video folder's name, for a title that fits (its whole path may not).
fn video_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn text(p: &Prediction) -> String {
    let mut order: Vec<usize> = (0..p.classes.len()).collect();
    order.sort_by(|&a, &b| p.probabilities[b].total_cmp(&p.probabilities[a]));
    let width = p.classes.iter().map(String::len).max().unwrap_or(5).max(5);
    let mut out = format!(
        "{}: {} frames, {} windows of {} frames, {} ({} pooling)\n{:<width$}  probability  pooled score\n",
        p.video,
        p.frames,
        p.window_starts.len(),
        p.window_len,
        p.model,
        p.pooling,
        "class"
    );
    for k in order {
        let mark = if k == p.predicted_index { "  <- predicted" } else { "" };
        out += &format!(
            "{:<width$}  {:>9.2} %  {:>12.4}{mark}\n",
            p.classes[k],
            100.0 * p.probabilities[k],
            p.pooled[k]
        );
    }
    out
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let p = predict(args)?;
    if let Some(path) = &args.png {
        let plot = WindowScoresPlot {
            title: format!("{} ({})", video_name(&args.video), p.model),
            classes: p.classes.clone(),
            starts: p.window_starts.clone(),
            window_len: p.window_len,
            video_len: p.frames,
            scores: p.window_scores.clone(),
            weights: p.window_weights.clone(),
            pooled: p.pooled.clone(),
            predicted: p.predicted_index,
            pooling: p.pooling.clone(),
        };
        window_scores(&plot, path)?;
    }
    if args.json {
        let json = serde_json::to_string_pretty(&p).map_err(|e| Error::argument("predict", e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", text(&p));
        if let Some(path) = &args.png {
            println!("window scores drawn in {}", path.display());
        }
    }
    Ok(())
}

//! Where a run's videos come from: the synthetic benchmark (generated and packed once into a
//! cache), a pack file, or a frame-folder root; the train / validation / test split; and, on
//! synthetic data, each video's informative segment for the on-segment rate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::data::packer::{pack_dataset, PackOptions};
use crate::data::protocol::{stratified_holdout, Split};
use crate::data::synth::{generate, GroundTruth, SynthConfig};
use crate::data::{discover_split, Interp, Pack, VideoSource};
use crate::error::{Error, Result};

pub struct RunData {
    pub train: Arc<dyn VideoSource>,
    pub test: Arc<dyn VideoSource>,
    /// Indices into `train`'s videos.
    pub train_videos: Vec<usize>,
    pub val_videos: Vec<usize>,
    pub split: Split,
    /// Informative segment [start, end) in frames, by video id (synthetic benchmark only).
    pub segments: HashMap<String, (usize, usize)>,
    pub classes: Vec<String>,
}

/// Packs split `split` of the frame-folder `root` into `out` unless it is already there.
fn ensure_pack(root: &Path, split: &str, out: &Path) -> Result<PathBuf> {
    if !out.exists() {
        let discovery = discover_split(root, split, None)?;
        let opts = PackOptions {
            size: None,
            interp: Interp::Bilinear,
            skip_bad: false,
            progress: true,
            threads: rayon::current_num_threads(),
        };
        pack_dataset(&discovery, out, &opts)?;
    }
    Ok(out.to_path_buf())
}

/// The synthetic benchmark under `cache/seed-S`: generated and packed on first use.
fn synthetic(cache: &Path, seed: u64) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let dir = cache.join(format!("seed-{seed}"));
    let frames = dir.join("frames");
    let done = dir.join("COMPLETE");
    if !done.exists() {
        if frames.exists() {
            // A generation interrupted earlier: start again rather than mix two.
            std::fs::remove_dir_all(&frames).map_err(|e| Error::io(&frames, e))?;
        }
        eprintln!("synthetic benchmark: generating into {} (once)", frames.display());
        generate(
            &SynthConfig {
                seed,
                ..SynthConfig::default()
            },
            &frames,
            rayon::current_num_threads(),
            true,
        )?;
        std::fs::write(&done, b"").map_err(|e| Error::io(&done, e))?;
    }
    let train = ensure_pack(&frames.join("videos"), "train", &dir.join("train.stsmpack"))?;
    let test = ensure_pack(&frames.join("videos"), "test", &dir.join("test.stsmpack"))?;
    Ok((train, test, frames.join("ground_truth.json")))
}

fn open_source(path: &Path) -> Result<Arc<dyn VideoSource>> {
    Ok(Arc::new(Pack::open(path)?))
}

/// Resolves `data` into train and test sources and a stratified validation hold-out.
pub fn load(
    data: Option<&Path>,
    train_split: &str,
    test_split: &str,
    cache: &Path,
    val_fraction: f64,
    seed: u64,
) -> Result<RunData> {
    let (train, test, truth) = match data {
        None => {
            let (train, test, truth) = synthetic(cache, 0)?;
            (open_source(&train)?, open_source(&test)?, Some(truth))
        }
        Some(p) if p.is_dir() => {
            // A frame-folder root: pack each split beside the data once (decoding is the slow part).
            let train = ensure_pack(p, train_split, &p.join(format!(".{train_split}.stsmpack")))?;
            let test = ensure_pack(p, test_split, &p.join(format!(".{test_split}.stsmpack")))?;
            let truth = p.parent().map(|d| d.join("ground_truth.json")).filter(|t| t.exists());
            (open_source(&train)?, open_source(&test)?, truth)
        }
        Some(p) => {
            return Err(Error::data(p, "expected a frame-folder root (ROOT/<split>/<Class>/<video>/); pack files for train and test come from it"));
        }
    };
    if train.classes() != test.classes() {
        return Err(Error::argument(
            "train",
            format!(
                "train classes {:?} differ from test classes {:?}",
                train.classes(),
                test.classes()
            ),
        ));
    }
    let split = stratified_holdout(train.videos(), val_fraction, seed)?;
    let (train_videos, val_videos) = split.indices(0, train.videos())?;
    let mut segments = HashMap::new();
    if let Some(path) = truth {
        for v in GroundTruth::load(&path)?.videos {
            segments.insert(v.id.clone(), (v.segment[0], v.segment[1]));
        }
    }
    let classes = train.classes().to_vec();
    Ok(RunData {
        train,
        test,
        train_videos,
        val_videos,
        split,
        segments,
        classes,
    })
}

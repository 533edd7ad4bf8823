//! Where a run's videos come from: the synthetic benchmark (generated and packed once into a
//! cache), a pack file, or a frame-folder root; the train / validation / test split; and, on
//! synthetic data, each video's informative segment for the on-segment rate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::TrainConfig;
use crate::data::packer::{pack_dataset, PackOptions};
use crate::data::protocol::{stratified_holdout, Split};
use crate::data::synth::{generate, GroundTruth, SynthConfig};
use crate::data::{discover_split, Interp, Pack, VideoSource};
use crate::error::{Error, Result};

/// Where a synthetic video's expression is: segment [start, end) and apex, in frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Truth {
    pub segment: (usize, usize),
    pub apex: usize,
}

pub struct RunData {
    pub train: Arc<dyn VideoSource>,
    pub test: Arc<dyn VideoSource>,
    /// Indices into `train`'s videos.
    pub train_videos: Vec<usize>,
    pub val_videos: Vec<usize>,
    pub split: Split,
    /// Ground truth by video id (synthetic benchmark only).
    pub truth: HashMap<String, Truth>,
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

/// The synthetic benchmark of `cfg` under `cache/synth-<hash of cfg>`: generated and packed on
/// first use, shared by every run with the same settings.
fn synthetic(cache: &Path, cfg: &SynthConfig) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let key = serde_json::to_string(cfg).map_err(|e| Error::argument("synth", e.to_string()))?;
    let dir = cache.join(format!("synth-{:08x}", crate::nn::closed_form::name_hash(&key)));
    let frames = dir.join("frames");
    let done = dir.join("COMPLETE");
    if !done.exists() {
        if frames.exists() {
            // A generation interrupted earlier: start again rather than mix two.
            std::fs::remove_dir_all(&frames).map_err(|e| Error::io(&frames, e))?;
        }
        eprintln!("synthetic benchmark: generating into {} (once)", frames.display());
        generate(cfg, &frames, rayon::current_num_threads(), true)?;
        std::fs::write(&done, b"").map_err(|e| Error::io(&done, e))?;
    }
    let train = ensure_pack(&frames.join("videos"), "train", &dir.join("train.stsmpack"))?;
    let test = ensure_pack(&frames.join("videos"), "test", &dir.join("test.stsmpack"))?;
    Ok((train, test, frames.join("ground_truth.json")))
}

/// The still-image set (labels.csv) of the synthetic benchmark of `c`, generating it if needed.
pub fn synthetic_stills(c: &TrainConfig) -> Result<PathBuf> {
    let (train, _, truth) = synthetic(&c.synth_cache, &c.synth)?;
    let frames = truth.parent().unwrap_or(&train).to_path_buf();
    Ok(frames.join("stills"))
}

fn open_source(path: &Path) -> Result<Arc<dyn VideoSource>> {
    Ok(Arc::new(Pack::open(path)?))
}

/// Resolves the run's data into train and test sources and a stratified validation hold-out.
pub fn load(c: &TrainConfig) -> Result<RunData> {
    let (train_split, test_split) = (c.train_split.as_str(), c.test_split.as_str());
    let (train, test, truth_file) = match c.data.as_deref() {
        None => {
            let (train, test, truth) = synthetic(&c.synth_cache, &c.synth)?;
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
    let split = stratified_holdout(train.videos(), c.val_fraction, c.seed)?;
    let (train_videos, val_videos) = split.indices(0, train.videos())?;
    let mut truth = HashMap::new();
    if let Some(path) = truth_file {
        for v in GroundTruth::load(&path)?.videos {
            truth.insert(
                v.id.clone(),
                Truth {
                    segment: (v.segment[0], v.segment[1]),
                    apex: v.apex,
                },
            );
        }
    }
    let classes = train.classes().to_vec();
    Ok(RunData {
        train,
        test,
        train_videos,
        val_videos,
        split,
        truth,
        classes,
    })
}

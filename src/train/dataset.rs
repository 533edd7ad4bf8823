//! Where a run's videos come from: the synthetic benchmark (generated and packed once into a
//! cache), a pack file, or a frame-folder root; the train / validation / test split; and, on
//! synthetic data, each video's informative segment for the on-segment rate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::TrainConfig;
use crate::data::manifest::load_manifest;
use crate::data::packer::{pack_dataset, PackOptions};
use crate::data::protocol::{stratified_holdout, Protocol, Split};
use crate::data::synth::{generate, GroundTruth, SynthConfig};
use crate::data::{discover_split, ClassMap, Discovery, Interp, Pack, SourceView, VideoMeta, VideoSource};
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use serde::{Deserialize, Serialize};

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
    /// Indices into `test`'s videos: the whole test split, or the fold's test subjects.
    pub test_videos: Vec<usize>,
    /// The hold-out of validation videos (default protocol), or the protocol's folds.
    pub split: Split,
    /// Ground truth by video id (synthetic benchmark only).
    pub truth: HashMap<String, Truth>,
    pub classes: Vec<String>,
}

/// What a cached pack was built from: every frame or video file's path, size and modification time, the
/// class list and each video's label, hashed; and the warnings reading the data gave, shown again
/// whenever the cache is used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CacheSource {
    key: String,
    videos: usize,
    frames: usize,
    warnings: Vec<String>,
}

/// The key of a discovered split: changes when a file is added, removed, replaced or touched, or
/// when the class list changes.
fn source_key(root: &Path, discovery: &Discovery) -> Result<String> {
    let mut listing = String::new();
    listing.push_str(&discovery.classes.join("\u{1f}"));
    for v in &discovery.videos {
        listing.push_str(&format!("\n{}\u{1f}{}", v.id, v.label));
        // Subjects and splits decide protocol folds: a manifest that changes them changes the key.
        if v.subject.is_some() || v.split.is_some() {
            listing.push_str(&format!("\u{1f}{:?}\u{1f}{:?}", v.subject, v.split));
        }
        for f in v.files() {
            let meta = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let rel = f.strip_prefix(root).unwrap_or(f);
            listing.push_str(&format!("\n{}\u{1f}{}\u{1f}{mtime}", rel.display(), meta.len()));
        }
    }
    let bytes = listing.as_bytes();
    let mut second = crc32fast::Hasher::new_with_initial(0x5354_534d);
    second.update(bytes);
    Ok(format!(
        "{:08x}{:08x}-{}",
        crc32fast::hash(bytes),
        second.finalize(),
        bytes.len()
    ))
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Packs split `split` of the frame-folder `root` into `out`, unless `out` is already a pack of
/// exactly the files there now (its source record `out.source.json` says which). A cache that
/// no longer matches is rebuilt, and the user told so. The warnings of reading the data are
/// shown every time.
fn ensure_pack(root: &Path, split: &str, out: &Path) -> Result<PathBuf> {
    let discovery = discover_split(root, split, None)?;
    ensure_pack_of(discovery, root, &root.join(split), out)
}

/// Packs `discovery` (videos whose frame paths lie under `root`; `what` names them in messages)
/// into `out` unless `out` already packs exactly those files.
fn ensure_pack_of(discovery: Discovery, root: &Path, what: &Path, out: &Path) -> Result<PathBuf> {
    let record_path = PathBuf::from(format!("{}.source.json", out.display()));
    let key = source_key(root, &discovery)?;
    let recorded: Option<CacheSource> = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let Some(r) = recorded.as_ref().filter(|r| r.key == key && out.exists()) {
        print_warnings(&r.warnings);
        return Ok(out.to_path_buf());
    }
    if out.exists() {
        eprintln!(
            "data cache {} does not match the files under {} any more ({}); rebuilding it",
            out.display(),
            what.display(),
            match &recorded {
                Some(r) => format!(
                    "it holds {} videos / {} frames, the folder now {} / {}",
                    r.videos,
                    r.frames,
                    discovery.videos.len(),
                    discovery.videos.iter().map(|v| v.files().len()).sum::<usize>()
                ),
                None => "it has no record of its source".to_string(),
            }
        );
    }
    let _ = std::fs::remove_file(&record_path);
    let opts = PackOptions {
        size: None,
        interp: Interp::Bilinear,
        skip_bad: false,
        fps: None,
        progress: true,
        threads: rayon::current_num_threads(),
    };
    let report = pack_dataset(&discovery, out, &opts)?;
    print_warnings(&report.warnings);
    let record = CacheSource {
        key,
        videos: report.videos,
        frames: report.frames,
        warnings: report.warnings,
    };
    let json = serde_json::to_vec_pretty(&record).map_err(|e| Error::data(&record_path, e.to_string()))?;
    write_atomically(&record_path, |f| std::io::Write::write_all(f, &json))?;
    Ok(out.to_path_buf())
}

/// The test split's pack beside a train pack: `train.stsmpack` -> `test.stsmpack` (the split
/// names replaced in the file name).
fn sibling_pack(train: &Path, train_split: &str, test_split: &str) -> Result<PathBuf> {
    let name = train
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(train_split) {
        return Err(Error::data(
            train,
            format!(
                "a pack given as --data must be named after the train split `{train_split}` (e.g. \
                 {train_split}.stsmpack) so that its test split's pack ({test_split}.stsmpack) is found beside it"
            ),
        ));
    }
    let test = train.with_file_name(name.replacen(train_split, test_split, 1));
    if !test.is_file() {
        return Err(Error::data(
            &test,
            format!("the test split's pack, expected beside {}, is missing", train.display()),
        ));
    }
    Ok(test)
}

/// The synthetic benchmark of `cfg` under `cache/synth-<hash of cfg>`: generated and packed on
/// first use, shared by every run with the same settings.
fn synthetic(cache: &Path, cfg: &SynthConfig) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let frames = synthetic_frames(cache, cfg)?;
    let dir = frames.parent().unwrap_or(cache).to_path_buf();
    let train = ensure_pack(&frames.join("videos"), "train", &dir.join("train.stsmpack"))?;
    let test = ensure_pack(&frames.join("videos"), "test", &dir.join("test.stsmpack"))?;
    Ok((train, test, frames.join("ground_truth.json")))
}

/// The synthetic benchmark's output folder (frames, manifest, sidecar, stills), generated once.
fn synthetic_frames(cache: &Path, cfg: &SynthConfig) -> Result<PathBuf> {
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
        write_atomically(&done, |_| Ok(()))?;
    }
    Ok(frames)
}

/// The still-image set (labels.csv) of the synthetic benchmark of `c`, generating it if needed.
pub fn synthetic_stills(c: &TrainConfig) -> Result<PathBuf> {
    Ok(synthetic_frames(&c.synth_cache, &c.synth)?.join("stills"))
}

fn open_source(path: &Path) -> Result<Arc<dyn VideoSource>> {
    Ok(Arc::new(Pack::open(path)?))
}

/// The packs of a run's data before any protocol: the data's train and test splits, or (a
/// manifest under a subject-independent protocol) every row in one pack.
enum Packed {
    TrainTest(PathBuf, PathBuf),
    All(PathBuf),
}

/// The pack (cached beside the manifest) of the manifest's rows of `split` (all rows: None).
fn manifest_pack(manifest: &Path, split: Option<&str>) -> Result<PathBuf> {
    let discovery = load_manifest(manifest, None, split)?;
    if discovery.videos.is_empty() {
        return Err(Error::data(
            manifest,
            match split {
                Some(s) => format!(
                    "no rows of split `{s}`: the default protocol (holdout) needs a split column with `train` \
                     and `test` rows; without one use --protocol kfold:K or loso"
                ),
                None => "has no videos".to_string(),
            },
        ));
    }
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    let out = dir.join(format!(".{stem}.{}.stsmpack", split.unwrap_or("all")));
    ensure_pack_of(discovery, dir, manifest, &out)
}

/// Where `c.data` is and what it is: (packs, ground-truth sidecar). `--data` may be a pack, a
/// manifest CSV, a folder with a `manifest.csv` (synth's output folder), or a frame-folder root.
fn locate(c: &TrainConfig, pooled: bool) -> Result<(Packed, Option<PathBuf>)> {
    let (train_split, test_split) = (c.train_split.as_str(), c.test_split.as_str());
    let from_manifest = |m: &Path| -> Result<Packed> {
        Ok(if pooled {
            Packed::All(manifest_pack(m, None)?)
        } else {
            Packed::TrainTest(
                manifest_pack(m, Some(train_split))?,
                manifest_pack(m, Some(test_split))?,
            )
        })
    };
    let sidecar = |dir: Option<&Path>| dir.map(|d| d.join("ground_truth.json")).filter(|t| t.exists());
    Ok(match c.data.as_deref() {
        None if pooled => {
            // Subjects come from the benchmark's manifest.
            let frames = synthetic_frames(&c.synth_cache, &c.synth)?;
            (
                from_manifest(&frames.join("manifest.csv"))?,
                Some(frames.join("ground_truth.json")),
            )
        }
        None => {
            let (train, test, truth) = synthetic(&c.synth_cache, &c.synth)?;
            (Packed::TrainTest(train, test), Some(truth))
        }
        Some(p) if p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) => {
            (from_manifest(p)?, sidecar(p.parent()))
        }
        Some(p) if p.is_file() => {
            let test = sibling_pack(p, train_split, test_split)?;
            (Packed::TrainTest(p.to_path_buf(), test), sidecar(p.parent()))
        }
        Some(p) if p.is_dir() && p.join("manifest.csv").is_file() => {
            (from_manifest(&p.join("manifest.csv"))?, sidecar(Some(p)))
        }
        Some(p) if p.is_dir() => {
            // A root of frame folders and/or video files: pack each split beside the data once
            // (decoding is the slow part).
            let train = ensure_pack(p, train_split, &p.join(format!(".{train_split}.stsmpack")))?;
            let test = ensure_pack(p, test_split, &p.join(format!(".{test_split}.stsmpack")))?;
            (Packed::TrainTest(train, test), sidecar(p.parent()))
        }
        Some(p) => {
            return Err(Error::data(
                p,
                "not found; expected a dataset root (ROOT/<split>/<Class>/<video>/ frame folders or \
                 <video>.mp4|avi|mkv|webm|mov files), synth's output folder (with manifest.csv), a \
                 manifest CSV (path,label,subject[,split]) or a train pack",
            ));
        }
    })
}

/// `source` through the run's class map, if it has one.
fn mapped(source: Arc<dyn VideoSource>, c: &TrainConfig) -> Result<Arc<dyn VideoSource>> {
    match &c.class_map {
        None => Ok(source),
        Some(text) => Ok(Arc::new(SourceView::mapped(source, &ClassMap::parse(text)?)?)),
    }
}

/// Train source, test source, ground-truth sidecar.
type Sources = (Arc<dyn VideoSource>, Arc<dyn VideoSource>, Option<PathBuf>);

/// The run's train and test sources through its class map (one pooled source, twice, under a
/// fold protocol), and the ground-truth sidecar if the data has one.
fn sources(c: &TrainConfig, pooled: bool) -> Result<Sources> {
    let (packed, truth_file) = locate(c, pooled)?;
    let (train, test) = match packed {
        Packed::TrainTest(train, test) => (open_source(&train)?, open_source(&test)?),
        Packed::All(all) => {
            let all = open_source(&all)?;
            (Arc::clone(&all), all)
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
    let (train, test) = if pooled {
        let all: Arc<dyn VideoSource> = if Arc::ptr_eq(&train, &test) {
            train
        } else {
            Arc::new(SourceView::pooled(vec![train, test])?)
        };
        let all = mapped(all, c)?;
        (Arc::clone(&all), all)
    } else {
        (mapped(train, c)?, mapped(test, c)?)
    };
    Ok((train, test, truth_file))
}

/// The folds of the run's protocol (an error for holdout, which has none).
pub fn protocol_split(c: &TrainConfig) -> Result<Split> {
    let protocol = Protocol::parse(&c.protocol)?;
    let (all, _, _) = sources(c, protocol != Protocol::Holdout)?;
    protocol.split(all.videos(), c.protocol_seed)
}

/// Resolves the run's data into train and test sources and a stratified validation hold-out;
/// under a subject-independent protocol, into fold `c.fold` of every split's videos pooled, the
/// validation hold-out drawn from that fold's training subjects only.
pub fn load(c: &TrainConfig) -> Result<RunData> {
    let protocol = Protocol::parse(&c.protocol)?;
    let pooled = protocol != Protocol::Holdout;
    let (train, test, truth_file) = sources(c, pooled)?;
    let (train_pool, test_videos, split) = if pooled {
        fold_of(protocol, train.as_ref(), c)?
    } else {
        refuse_degenerate_classes(train.as_ref(), test.as_ref(), c)?;
        let split = stratified_holdout(train.videos(), c.val_fraction, c.seed)?;
        (
            (0..train.videos().len()).collect(),
            (0..test.videos().len()).collect(),
            split,
        )
    };
    // The validation hold-out, per class, from the training videos only.
    let pool_meta: Vec<VideoMeta> = train_pool.iter().map(|&v| train.videos()[v].clone()).collect();
    let holdout = stratified_holdout(&pool_meta, c.val_fraction, c.seed)?;
    let (train_videos, val_videos) = holdout.indices(0, train.videos())?;
    // val_fraction 0 asks for no validation; any other value must leave some.
    if (val_videos.is_empty() && c.val_fraction > 0.0) || train_videos.is_empty() {
        return Err(Error::argument(
            "train",
            format!(
                "the validation hold-out of {} training videos at val_fraction {} leaves {} for \
                 validation and {} for training; both need videos: set val_fraction in the --config \
                 file so that each class keeps one (or 0 to train without validation, the last epoch \
                 then being the best), or add training videos",
                train_pool.len(),
                c.val_fraction,
                val_videos.len(),
                train_videos.len()
            ),
        ));
    }
    let mut truth = HashMap::new();
    if let Some(path) = truth_file {
        // Videos without an expressive segment (the pain stand-in's BL1) have nothing to hit:
        // the on-segment and apex rates are over the others.
        for v in GroundTruth::load(&path)?
            .videos
            .into_iter()
            .filter(|v| v.segment[1] > v.segment[0])
        {
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
        test_videos,
        split: if pooled { split } else { holdout },
        truth,
        classes,
    })
}

/// Fold `c.fold` of `protocol` over `all`: (training videos, test videos, the whole split).
/// Every class needs training videos in the fold.
fn fold_of(protocol: Protocol, all: &dyn VideoSource, c: &TrainConfig) -> Result<(Vec<usize>, Vec<usize>, Split)> {
    let classes = all.classes();
    if classes.len() < 2 {
        return Err(Error::argument(
            "train",
            format!(
                "the data has {} class(es) {classes:?}; classification needs two or more",
                classes.len()
            ),
        ));
    }
    let split = protocol.split(all.videos(), c.protocol_seed)?;
    let fold = c.fold.ok_or_else(|| {
        Error::argument(
            "train",
            format!(
                "--protocol {protocol} runs one fold per run directory; name the fold (--fold 0 .. {})",
                split.folds.len() - 1
            ),
        )
    })?;
    if fold >= split.folds.len() {
        return Err(Error::argument(
            "--fold",
            format!(
                "{fold} is out of range: {protocol} has {} folds (0 .. {})",
                split.folds.len(),
                split.folds.len() - 1
            ),
        ));
    }
    let (train, test) = split.indices(fold, all.videos())?;
    let mut counts = vec![0usize; classes.len()];
    for &v in &train {
        counts[all.videos()[v].label] += 1;
    }
    if let Some(k) = counts.iter().position(|&n| n == 0) {
        return Err(Error::argument(
            "--protocol",
            format!(
                "fold {fold} ({}) of {protocol} has no training video of class `{}`: every subject with that \
                 class is in its test fold; use fewer folds, another --protocol-seed, or more subjects with that class",
                split.folds[fold].name, classes[k]
            ),
        ));
    }
    Ok((train, test, split))
}

/// A run needs two classes or more, each with training videos, and a test split with videos:
/// anything less trains or reports nothing meaningful.
fn refuse_degenerate_classes(train: &dyn VideoSource, test: &dyn VideoSource, c: &TrainConfig) -> Result<()> {
    let where_ = c
        .data
        .as_ref()
        .map_or_else(|| "the synthetic benchmark".to_string(), |p| p.display().to_string());
    let classes = train.classes();
    if classes.len() < 2 {
        return Err(Error::data(
            &where_,
            format!(
                "has {} class(es) {classes:?}; classification needs at least two classes (class folders with videos)",
                classes.len()
            ),
        ));
    }
    let mut counts = vec![0usize; classes.len()];
    for v in train.videos() {
        counts[v.label] += 1;
    }
    let empty: Vec<&str> = classes
        .iter()
        .zip(&counts)
        .filter(|(_, &n)| n == 0)
        .map(|(name, _)| name.as_str())
        .collect();
    if !empty.is_empty() {
        return Err(Error::data(
            &where_,
            format!(
                "class(es) {empty:?} have no training videos in split `{}` (an empty or stray class folder); \
                 remove the folder or add videos to it",
                c.train_split
            ),
        ));
    }
    if test.videos().is_empty() {
        return Err(Error::data(
            &where_,
            format!(
                "the test split `{}` has no videos; add test videos (ROOT/{}/<Class>/<video>/)",
                c.test_split, c.test_split
            ),
        ));
    }
    Ok(())
}

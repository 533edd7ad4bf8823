//! 2D pretraining, the first half of the paper's pipeline: the 2D counterpart of a model (e.g.
//! `tiny-vgg2d`, temporal kernel 1) is trained on single labelled images (the synthetic
//! benchmark's still set, or a FER2013-style folder), then `inflate` turns it into a 3D
//! initialisation whose clip scores are informative from the first epoch — which the sampler's
//! short exploration phase needs (trained from scratch, a reference run sat at chance for 12–23
//! epochs and exploration recorded noise).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::autograd::Tape;
use crate::backend::cuda::device::ensure_usable;
use crate::data::augment::{mix_seed, SYNTH_STD};
use crate::data::frames::{Discovery, VideoEntry};
use crate::data::protocol::stratified_holdout;
use crate::data::{
    AugMode, AugmentConfig, ClipRequest, ClipSpec, FolderSource, Interp, Loader, LoaderConfig, Padding, VideoSource,
};
use crate::error::{Error, Result};
use crate::infer::scorer::video_loss;
use crate::nn::checkpoint::{self, CheckpointMeta, Preprocessing};
use crate::nn::layers::{LayerInit, Module};
use crate::nn::{Init, Model, ModelConfig};
use crate::optim::{ParamGroup, Sgd};
use crate::tensor::{DType, Device};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainConfig {
    /// A still-image folder with `labels.csv` (path,label[,subject]) as `synth` writes it.
    pub stills: PathBuf,
    /// A 2D preset (temporal kernel 1), e.g. tiny-vgg2d.
    pub model: String,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub resize: usize,
    pub crop: usize,
    pub val_fraction: f64,
    pub seed: u64,
    pub workers: usize,
    /// Per-channel divisor after mean subtraction; the checkpoint records it, and training from
    /// the inflated weights must use the same.
    pub input_std: [f32; 3],
    /// Dropout of fc6 and fc7 (None: the preset's 0.5).
    pub dropout: Option<f64>,
    /// Rotation and colour jitter on top of flips and random crops.
    pub full_augment: bool,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        PretrainConfig {
            stills: PathBuf::new(),
            model: "tiny-vgg2d".into(),
            epochs: 30,
            batch: 16,
            // tiny-vgg2d is 13 convs without batch norm: with momentum 0.9, lr 0.01 (and already
            // 0.003) makes the loss spike back to chance every few dozen steps; 0.001-0.002 is
            // stable on unit-scale inputs.
            lr: 0.002,
            weight_decay: 5e-4,
            momentum: 0.9,
            resize: 72,
            crop: 64,
            val_fraction: 0.2,
            seed: 0,
            workers: 2,
            // Unit-scale inputs: with std 1 (mean subtraction only) they have std ~0.2, the logits
            // of the He-initialised net start ~5x smaller and the first ~150 steps sit on a plateau.
            input_std: SYNTH_STD,
            // Dropout 0.5 on fc6 and fc7 (a 256-wide fc on 2000 small images) slowed learning
            // ~2x without helping validation; so did rotation and colour jitter on 32-pixel faces.
            dropout: Some(0.0),
            full_augment: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct PretrainSummary {
    pub best_val_acc: f64,
    pub best_epoch: usize,
    pub classes: Vec<String>,
}

/// Reads `labels.csv`: one image per row, each a one-frame "video" for the data pipeline.
pub fn discover_stills(dir: &Path) -> Result<Discovery> {
    let csv = dir.join("labels.csv");
    let text = std::fs::read_to_string(&csv).map_err(|e| Error::io(&csv, e))?;
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    if let Some((i, _)) = rows.iter().enumerate().find(|(_, r)| r.len() < 2) {
        return Err(Error::data(
            &csv,
            format!("line {}: expected path,label[,subject]", i + 2),
        ));
    }
    let mut classes: Vec<String> = rows.iter().map(|r| r[1].trim().to_string()).collect();
    classes.sort();
    classes.dedup();
    let videos = rows
        .iter()
        .map(|r| {
            let path = dir.join(r[0].trim());
            VideoEntry {
                id: r[0].trim().to_string(),
                label: classes.binary_search(&r[1].trim().to_string()).unwrap_or(0),
                subject: r.get(2).map(|s| s.trim().to_string()),
                split: None,
                frames: vec![path],
            }
        })
        .collect();
    Ok(Discovery {
        classes,
        videos,
        warnings: Vec::new(),
    })
}

fn accuracy(
    model: &Model,
    source: &Arc<dyn VideoSource>,
    images: &[usize],
    cfg: &PretrainConfig,
    aug: &AugmentConfig,
) -> Result<(f64, f64)> {
    let requests: Vec<ClipRequest> = images.iter().map(|&video| ClipRequest { video, start: 0 }).collect();
    let loader = Loader::new(Arc::clone(source), requests, loader_config(cfg, aug, AugMode::Eval))?;
    let (mut loss, mut correct, mut seen) = (0.0, 0usize, 0usize);
    for batch in loader {
        let batch = batch?;
        let logits = model
            .clip_logits(
                &Tape::no_grad().constant(batch.clips.to_device(model.device())?),
                false,
                0,
            )?
            .value()
            .to_f64_vec()?;
        let k = logits.len() / batch.labels.len();
        for (row, &label) in logits.chunks(k).zip(&batch.labels) {
            let (l, ok) = video_loss(row, label);
            loss += l;
            correct += ok as usize;
            seen += 1;
        }
    }
    Ok((loss / seen.max(1) as f64, correct as f64 / seen.max(1) as f64))
}

fn loader_config(cfg: &PretrainConfig, aug: &AugmentConfig, mode: AugMode) -> LoaderConfig {
    LoaderConfig {
        batch: cfg.batch,
        workers: cfg.workers,
        prefetch: 2,
        spec: ClipSpec {
            len: 1,
            padding: Padding::Black,
        },
        augment: aug.clone(),
        mode,
        drop_last: false,
    }
}

/// Trains the 2D model on `device` (initialised on the CPU, then moved) and writes the
/// checkpoint with the best validation accuracy to `out`.
pub fn run(cfg: &PretrainConfig, out: &Path, device: Device) -> Result<PretrainSummary> {
    if cfg.epochs == 0 || cfg.batch == 0 {
        return Err(Error::argument("pretrain", "--epochs and --batch must be at least 1"));
    }
    ensure_usable(device)?;
    let discovery = discover_stills(&cfg.stills)?;
    let classes = discovery.classes.clone();
    let source: Arc<dyn VideoSource> = Arc::new(FolderSource::new(discovery, None, Interp::Bilinear)?);
    let mut config = ModelConfig::preset(&cfg.model, classes.len())?;
    if config.conv_kernel[0] != 1 {
        return Err(Error::argument(
            "pretrain",
            format!(
                "{} is not a 2D model (temporal kernel 1); use e.g. tiny-vgg2d",
                cfg.model
            ),
        ));
    }
    config.input = [1, cfg.crop, cfg.crop];
    if let Some(p) = cfg.dropout {
        config.dropout = p;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(cfg.seed, 0, 3));
    let model = Model::new(
        config,
        &mut LayerInit {
            init: Init::HeNormal,
            dtype: DType::F32,
            rng: &mut rng,
        },
    )?;
    model.to_device(device)?;
    let group = ParamGroup {
        name: "all".into(),
        params: model.parameters(),
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
    };
    let mut sgd = Sgd::new(vec![group], cfg.momentum, 0.0, false)?;
    let split = stratified_holdout(source.videos(), cfg.val_fraction, cfg.seed)?;
    let (train, val) = split.indices(0, source.videos())?;
    let mut aug = AugmentConfig {
        std: cfg.input_std,
        ..AugmentConfig::scaled(cfg.resize, cfg.crop)
    };
    if !cfg.full_augment {
        aug = AugmentConfig {
            max_rotation_deg: 0.0,
            brightness: 0.0,
            contrast: 0.0,
            saturation: 0.0,
            hue: 0.0,
            ..aug
        };
    }
    let meta = CheckpointMeta {
        model: model.config().clone(),
        classes: classes.clone(),
        preprocessing: Some(Preprocessing {
            resize: [cfg.resize; 2],
            crop: [cfg.crop; 2],
            mean: aug.mean,
            std: aug.std,
        }),
        sampling_gamma: None,
        pooling_gamma: None,
        notes: [("pretrained on".to_string(), cfg.stills.display().to_string())].into(),
    };
    let mut best = (f64::NEG_INFINITY, 0);
    for epoch in 1..=cfg.epochs {
        // The last quarter of the epochs at a tenth of the learning rate.
        let lr = if 4 * (epoch - 1) >= 3 * cfg.epochs {
            cfg.lr / 10.0
        } else {
            cfg.lr
        };
        sgd.set_lr(0, lr);
        let mut order = train.clone();
        order.shuffle(&mut rng);
        let requests: Vec<ClipRequest> = order.iter().map(|&video| ClipRequest { video, start: 0 }).collect();
        let mode = AugMode::Train {
            seed: cfg.seed,
            epoch: epoch as u64,
        };
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for (b, batch) in Loader::new(Arc::clone(&source), requests, loader_config(cfg, &aug, mode))?.enumerate() {
            let batch = batch?;
            let tape = Tape::new();
            let logits = model.clip_logits(
                &tape.constant(batch.clips.to_device(device)?),
                true,
                mix_seed(cfg.seed, epoch as u64, b as u64),
            )?;
            let loss = logits.cross_entropy(&batch.labels)?;
            loss_sum += loss.value().item()? * batch.labels.len() as f64;
            seen += batch.labels.len();
            loss.backward()?;
            sgd.step(1)?;
        }
        let (val_loss, val_acc) = accuracy(&model, &source, &val, cfg, &aug)?;
        let improved = val_acc > best.0;
        if improved {
            best = (val_acc, epoch);
            checkpoint::save_params(out, &model.parameters(), Some(&meta))?;
        }
        println!(
            "pretrain epoch {epoch:>3}  lr {lr:.0e} train loss {:.4} | val loss {val_loss:.4} acc {val_acc:.3}{}",
            loss_sum / seen.max(1) as f64,
            if improved { " *" } else { "" }
        );
    }
    Ok(PretrainSummary {
        best_val_acc: best.0,
        best_epoch: best.1,
        classes,
    })
}

/// The 2D counterpart of a 3D preset, if pretraining it on still images makes sense.
pub fn counterpart_2d(model: &str) -> Option<&'static str> {
    match model {
        "tiny-vgg3d" => Some("tiny-vgg2d"),
        _ => None,
    }
}

/// The run's settings with the paper's pipeline applied: on the synthetic benchmark, with no
/// `init` and a model that has a 2D counterpart, the counterpart is pretrained on the benchmark's
/// stills and inflated (both cached under `synth_cache/pretrain-<hash>` by a hash of everything
/// that determines them), and the run starts from the inflated weights with the last layer
/// re-initialised. Otherwise the settings come back unchanged. The pretraining runs on `device`;
/// the cache key leaves it out (a GPU's result differs from the CPU's only by float rounding).
pub fn resolve_init(c: &crate::train::TrainConfig, device: Device) -> Result<crate::train::TrainConfig> {
    let Some(model_2d) = counterpart_2d(&c.model) else {
        return Ok(c.clone());
    };
    if c.data.is_some() || c.init.is_some() || !c.pretrain.enabled {
        return Ok(c.clone());
    }
    let stills = crate::train::dataset::synthetic_stills(c)?;
    let p = &c.pretrain;
    let cfg = PretrainConfig {
        stills: stills.clone(),
        model: model_2d.to_string(),
        epochs: p.epochs,
        batch: p.batch,
        lr: p.lr,
        weight_decay: p.weight_decay,
        resize: c.resize,
        crop: c.crop,
        seed: p.seed,
        workers: c.workers,
        input_std: c.input_std,
        ..PretrainConfig::default()
    };
    // The stills' folder name carries the benchmark's hash; the key adds everything else.
    let key = serde_json::json!({ "stills": stills, "pretrain": cfg, "clip_len": c.clip_len }).to_string();
    let dir = c
        .synth_cache
        .join(format!("pretrain-{:08x}", crate::nn::closed_form::name_hash(&key)));
    let flat = dir.join("2d.safetensors");
    let inflated = dir.join("inflated.safetensors");
    let done = dir.join("COMPLETE");
    if !done.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        eprintln!(
            "2D pretraining of {model_2d} on {} (once; cached in {})",
            stills.display(),
            dir.display()
        );
        let started = std::time::Instant::now();
        let summary = run(&cfg, &flat, device)?;
        let record = serde_json::json!({
            "config": cfg,
            "best_val_acc": summary.best_val_acc,
            "best_epoch": summary.best_epoch,
            "classes": summary.classes,
            "seconds": started.elapsed().as_secs_f64(),
        });
        let text = serde_json::to_string_pretty(&record).map_err(|e| Error::data(&dir, e.to_string()))?;
        let info = dir.join("pretrain.json");
        crate::fsutil::write_atomically(&info, |f| std::io::Write::write_all(f, text.as_bytes()))?;
        crate::fsutil::write_atomically(&done, |_| Ok(()))?;
        eprintln!(
            "2D pretraining: best validation accuracy {:.1} % ({} classes, epoch {}) in {:.0} s -> {}",
            100.0 * summary.best_val_acc,
            summary.classes.len(),
            summary.best_epoch,
            started.elapsed().as_secs_f64(),
            flat.display()
        );
    }
    if !inflated.exists() {
        inflate_for(c, &flat, &inflated)?;
    }
    // Re-initialise the last layer only if it could not be cut down to the videos' classes.
    let fits = checkpoint::load(&inflated)?
        .meta
        .is_some_and(|m| m.classes == c.synth.class_names());
    Ok(crate::train::TrainConfig {
        dropout: c.dropout.or(cfg.dropout),
        init: Some(inflated),
        reinit: if fits { vec![] } else { vec![last_layer(&c.model)?] },
        ..c.clone()
    })
}

fn last_layer(model: &str) -> Result<String> {
    Ok(ModelConfig::preset(model, 1)?
        .fc_names()
        .last()
        .map(|s| s.to_string())
        .unwrap_or_default())
}

/// Inflates the 2D checkpoint `flat` for the run `c` into `to` (written under a temporary name,
/// then renamed, so concurrent runs never read half a file). The last layer keeps the rows of
/// the classes the videos have (all but Neutral), in the videos' label order, so the run's clip
/// scores are informative from its first epoch; if some class is missing it is left whole (and
/// the run re-initialises it).
fn inflate_for(c: &crate::train::TrainConfig, flat: &Path, to: &Path) -> Result<()> {
    let opts = crate::nn::inflate::InflateOptions {
        time_kernel: ModelConfig::preset(&c.model, 1)?.conv_kernel[0],
        // The 2D kernel in the middle time slice: every frame's features are exactly the 2D
        // net's, whatever the clip length. Repeat-and-divide (the reference) lets the zero
        // temporal padding reach every frame of a short clip through 13 convs: on static
        // 8-frame clips of the stills it scored 68 % where the 2D net scores 82 %.
        center: true,
        frames: c.clip_len,
    };
    let (mut tensors, mut meta) = crate::nn::inflate::inflate_checkpoint(&checkpoint::load(flat)?, &opts)?;
    let last = last_layer(&c.model)?;
    let classes = c.synth.class_names();
    let known = meta.as_ref().map(|m| m.classes.clone()).unwrap_or_default();
    let rows: Option<Vec<usize>> = classes
        .iter()
        .map(|name| known.iter().position(|k| k == name))
        .collect();
    if let Some(rows) = rows {
        for (name, t) in tensors.iter_mut() {
            if name.starts_with(&format!("{last}.")) {
                let width = t.dims().iter().skip(1).product::<usize>();
                let v = t.to_vec::<f32>()?;
                let picked: Vec<f32> = rows
                    .iter()
                    .flat_map(|&r| v[r * width..(r + 1) * width].to_vec())
                    .collect();
                let mut dims = t.dims().to_vec();
                dims[0] = rows.len();
                *t = crate::tensor::Tensor::from_vec(&dims, picked)?;
            }
        }
        if let Some(m) = meta.as_mut() {
            m.classes = classes.clone();
            m.model.classes = classes.len();
        }
    }
    let tmp = to.with_extension(format!("tmp{}", std::process::id()));
    checkpoint::save(&tmp, &tensors, meta.as_ref())?;
    std::fs::rename(&tmp, to).map_err(|e| Error::io(to, e))
}

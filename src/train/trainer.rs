//! The training loop (paper Algorithm 1): every epoch, one clip per training video, its start
//! drawn by the sampler; the clip's true-class logit from the training pass goes back into the
//! sampler; SGD with averaged gradient accumulation; validation with temporal softmax pooling
//! over whole videos; plateau LR schedule and early stopping (idle until exploitation); the best
//! checkpoint by validation loss; a resumable state at every epoch end; test at the end.
//! The model, its gradients and the momentum buffers live on `RunOptions::device`; clips are
//! made on the host and sent there, and each batch's logits come back for the sampler.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::TrainConfig;
use super::dataset::{self, RunData, Truth};
use super::metrics::{self, EpochMetrics};
use super::pictures;
use super::schedule::{PlateauConfig, Schedule};
use super::state::{self, ResumeState};
use crate::autograd::{Param, Tape};
use crate::backend::cuda::device::ensure_usable;
use crate::data::augment::mix_seed;
use crate::data::{AugMode, AugmentConfig, ClipRequest, ClipSpec, Loader, LoaderConfig, Padding, VideoSource};
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use crate::infer::evaluate::{score_videos, ScoringConfig};
use crate::infer::scorer;
use crate::nn::checkpoint::{self, CheckpointMeta, Preprocessing};
use crate::nn::layers::Module;
use crate::nn::{Family, Model, ModelConfig};
use crate::optim::{ParamGroup, Sgd};
use crate::sampling::{Sampler, SamplerConfig};
use crate::tensor::{DType, Device};

/// How to run (not what to train: that is `TrainConfig`, saved with the run).
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub out: PathBuf,
    pub resume: bool,
    pub progress: bool,
    /// Where the model, its gradients and the momentum buffers live, and where every training
    /// step, validation and test pass runs (the data loader and the sampler stay on the host).
    /// Not part of the run's settings: a run may be resumed on another device.
    pub device: Device,
    /// Act as if interrupted (Ctrl-C) after this many training batches of this invocation:
    /// tests of resuming from a mid-epoch stop.
    pub interrupt_after_batches: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub epochs_done: usize,
    pub best_epoch: Option<usize>,
    pub best_val_loss: Option<f64>,
    pub test_loss: f64,
    pub test_acc: f64,
    pub out: PathBuf,
    pub finished: bool,
}

/// Mean loss and accuracy of pooled whole-video scores.
#[derive(Clone, Copy, Debug, Default)]
pub struct Evaluation {
    pub loss: f64,
    pub acc: f64,
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::data(path, e.to_string()))?;
    write_atomically(path, |f| std::io::Write::write_all(f, &bytes))
}

/// The head (newly initialised, faster learning rate) vs the backbone.
fn is_head(config: &ModelConfig, name: &str) -> bool {
    match config.family {
        Family::C3d => name.starts_with("fc8."),
        Family::Vgg3d => name.starts_with("head."),
    }
}

fn param_groups(model: &Model, c: &TrainConfig, lrs: [f64; 2]) -> Vec<ParamGroup> {
    let (head, backbone): (Vec<Param>, Vec<Param>) = model
        .parameters()
        .into_iter()
        .partition(|p| is_head(model.config(), p.name()));
    vec![
        ParamGroup {
            name: "head".into(),
            params: head,
            lr: lrs[0],
            weight_decay: c.wd_head,
        },
        ParamGroup {
            name: "backbone".into(),
            params: backbone,
            lr: lrs[1],
            weight_decay: c.wd_backbone,
        },
    ]
}

/// How this run scores validation and test videos.
pub fn scoring(c: &TrainConfig, aug: &AugmentConfig) -> ScoringConfig {
    ScoringConfig {
        clip_len: c.clip_len,
        stride: c.eval_stride,
        gamma: c.pooling_gamma(),
        augment: aug.clone(),
    }
}

/// Mean loss and accuracy over `videos` of `source`, pooling with the run's γ.
pub fn evaluate(
    model: &Model,
    source: &dyn VideoSource,
    videos: &[usize],
    c: &TrainConfig,
    aug: &AugmentConfig,
) -> Result<Evaluation> {
    let scores = score_videos(model, source, videos, &scoring(c, aug))?;
    let (mut loss, mut correct) = (0.0, 0usize);
    for (pooled, &v) in scores.iter().zip(videos) {
        let (l, ok) = scorer::video_loss(pooled, source.videos()[v].label);
        loss += l;
        correct += ok as usize;
    }
    let n = videos.len().max(1) as f64;
    Ok(Evaluation {
        loss: loss / n,
        acc: correct as f64 / n,
    })
}

/// The run's model, built (and initialised from `c.init`) on the CPU, then moved to `device`.
fn build_model(c: &TrainConfig, classes: usize, device: Device) -> Result<Model> {
    let mut config = ModelConfig::preset(&c.model, classes)?;
    config.input = [c.clip_len, c.crop, c.crop];
    if let Some(p) = c.dropout {
        config.dropout = p;
    }
    let model = Model::seeded(config, DType::F32, mix_seed(c.seed, 0, 1))?;
    if let Some(path) = &c.init {
        checkpoint::load(path)?.load_into(&model.parameters(), &c.reinit, path)?;
    }
    model.to_device(device)?;
    Ok(model)
}

fn checkpoint_meta(c: &TrainConfig, model: &Model, data: &RunData, aug: &AugmentConfig) -> CheckpointMeta {
    CheckpointMeta {
        model: model.config().clone(),
        classes: data.classes.clone(),
        preprocessing: Some(Preprocessing {
            resize: [aug.resize.1, aug.resize.0],
            crop: [aug.crop.1, aug.crop.0],
            mean: aug.mean,
            std: aug.std,
        }),
        sampling_gamma: Some(c.sampling_gamma()),
        pooling_gamma: Some(c.pooling_gamma()),
        notes: Default::default(),
    }
}

/// Trains (or resumes) the run in `opts.out`. `interrupt` (Ctrl-C) stops after the current
/// epoch's checkpoint is written.
pub fn run(c: &TrainConfig, opts: &RunOptions, interrupt: &AtomicBool) -> Result<RunSummary> {
    c.validate()?;
    ensure_usable(opts.device)?;
    let out = &opts.out;
    let resuming = opts.resume && out.join("last.json").exists();
    if !opts.resume && out.join("last.json").exists() {
        return Err(Error::argument(
            "train",
            format!(
                "{} already holds a run; resume it with --resume {0} or choose another --out",
                out.display()
            ),
        ));
    }
    // A new run on the synthetic benchmark starts from the cached 2D pretraining, inflated; the
    // saved config names that checkpoint. A resumed run takes its weights from its own state.
    let resolved;
    let c = if resuming {
        c
    } else {
        resolved = super::pretrain::resolve_init(c, opts.device)?;
        &resolved
    };
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    write_json(&out.join("config.json"), c)?;

    let data = dataset::load(c)?;
    data.split.save(&out.join("split.json"))?;
    let model = if resuming {
        build_model(
            &TrainConfig {
                init: None,
                ..c.clone()
            },
            data.classes.len(),
            opts.device,
        )?
    } else {
        build_model(c, data.classes.len(), opts.device)?
    };
    let train_aug = c.augment();
    let lens: Vec<usize> = data
        .train_videos
        .iter()
        .map(|&v| data.train.videos()[v].frames)
        .collect();
    let sampler_config = SamplerConfig {
        kind: c.sampler,
        clip_len: c.clip_len,
        warmup_epochs: c.warmup_epochs,
        exploration_epochs: c.exploration_epochs,
    };
    let mut sgd = Sgd::new(
        param_groups(&model, c, [c.lr_head, c.lr_backbone]),
        c.momentum,
        0.0,
        false,
    )?;
    let plateau = PlateauConfig {
        factor: c.plateau_factor,
        patience: c.plateau_patience,
        ..Default::default()
    };
    let mut st = if resuming {
        let st = state::load(out, &model.parameters(), &mut sgd)?;
        st.sampler.check_video_lens(&lens)?;
        metrics::truncate(&out.join("metrics.jsonl"), st.epochs_done)?;
        st
    } else {
        let _ = std::fs::remove_file(out.join("metrics.jsonl"));
        ResumeState {
            epochs_done: 0,
            sampler: Sampler::new(sampler_config, &lens)?,
            rng: ChaCha8Rng::seed_from_u64(mix_seed(c.seed, 0, 2)),
            schedule: Schedule::new(plateau, c.early_stop_patience),
            lrs: [c.lr_head, c.lr_backbone],
            best_epoch: None,
            finished: false,
        }
    };
    for (i, lr) in st.lrs.iter().enumerate() {
        sgd.set_lr(i, *lr);
    }
    let meta = checkpoint_meta(c, &model, &data, &train_aug);
    let eval_aug = train_aug.clone();
    let mut batch_budget = opts.interrupt_after_batches;
    while !st.finished && st.epochs_done < c.epochs {
        let epoch = st.epochs_done + 1;
        let stop = Stop {
            flag: interrupt,
            budget: &mut batch_budget,
        };
        // An interrupted epoch is dropped whole: the state on disk is the end of the previous
        // epoch, and resuming redoes this one exactly (every draw is a function of that state).
        let Some(m) = train_epoch(
            c,
            &model,
            &mut sgd,
            &mut st,
            &data,
            &train_aug,
            epoch,
            opts.progress,
            stop,
        )?
        else {
            println!(
                "interrupted in epoch {epoch}; the checkpoint of epoch {} is kept",
                st.epochs_done
            );
            break;
        };
        let val = evaluate(&model, data.train.as_ref(), &data.val_videos, c, &eval_aug)?;
        let phase = st.sampler.phase(epoch);
        // Armed from the same epoch for every sampler (after warm-up + exploration epochs), so
        // paired runs of a sweep stop and select their checkpoint under one rule.
        let decision = st
            .schedule
            .observe(val.loss, epoch > c.warmup_epochs + c.exploration_epochs);
        for (i, lr) in st.lrs.iter_mut().enumerate() {
            *lr = st.schedule.apply(*lr, &decision);
            sgd.set_lr(i, *lr);
        }
        if decision.new_best {
            st.best_epoch = Some(epoch);
            checkpoint::save_params(&out.join("best.safetensors"), &model.parameters(), Some(&meta))?;
        }
        let record = EpochMetrics {
            val_loss: val.loss,
            val_acc: val.acc,
            ..m
        };
        println!(
            "epoch {epoch:>3} {:<12} train loss {:.4} acc {:.3} | val loss {:.4} acc {:.3}{} | lr {:.2e} | {:.0} clips/s{}",
            phase.to_string(),
            record.train_loss,
            record.train_acc,
            val.loss,
            val.acc,
            if decision.new_best { " *" } else { "" },
            st.lrs[0],
            record.clips_per_s,
            record
                .on_segment_rate
                .zip(record.apex_rate)
                .map(|(r, a)| format!(" | on-segment {r:.2} apex {a:.2}"))
                .unwrap_or_default(),
        );
        metrics::append(&out.join("metrics.jsonl"), &record)?;
        pictures::write(
            out,
            &metrics::read(&out.join("metrics.jsonl"))?,
            &st.sampler,
            &data,
            c.clip_len,
        )?;
        st.epochs_done = epoch;
        st.finished = decision.stop || epoch == c.epochs;
        state::save(out, &model.parameters(), &sgd, &st)?;
        if decision.stop {
            println!(
                "early stop: {} epochs without a better validation loss",
                c.early_stop_patience + 1
            );
        }
    }
    let (test_loss, test_acc) = if st.finished {
        let test = test_best(c, &model, &data, &eval_aug, out)?;
        (test.loss, test.acc)
    } else {
        println!(
            "stopped after epoch {}; continue with: stsm-engine train --resume {}",
            st.epochs_done,
            out.display()
        );
        (f64::NAN, f64::NAN)
    };
    Ok(RunSummary {
        epochs_done: st.epochs_done,
        best_epoch: st.best_epoch,
        best_val_loss: st.schedule.best(),
        test_loss,
        test_acc,
        out: out.clone(),
        finished: st.finished,
    })
}

/// Scores the test split with the best checkpoint and records the result in `test.json`.
fn test_best(c: &TrainConfig, model: &Model, data: &RunData, aug: &AugmentConfig, out: &Path) -> Result<Evaluation> {
    let best = out.join("best.safetensors");
    checkpoint::load(&best)?.load_into(&model.parameters(), &[], &best)?;
    let videos: Vec<usize> = (0..data.test.videos().len()).collect();
    let test = evaluate(model, data.test.as_ref(), &videos, c, aug)?;
    let record = serde_json::json!({ "test_loss": test.loss, "test_acc": test.acc, "videos": videos.len(), "pooling_gamma": c.pooling_gamma() });
    write_json(&out.join("test.json"), &record)?;
    Ok(test)
}

/// When to abandon an epoch: the Ctrl-C flag, or a test's batch budget running out.
struct Stop<'a> {
    flag: &'a AtomicBool,
    budget: &'a mut Option<usize>,
}

impl Stop<'_> {
    fn now(&mut self) -> bool {
        if let Some(n) = self.budget.as_mut() {
            if *n == 0 {
                return true;
            }
            *n -= 1;
        }
        self.flag.load(Ordering::Relaxed)
    }
}

/// One epoch: every training video once, clip starts from the sampler, scores back into it.
/// None if interrupted (the caller keeps the previous epoch's checkpoint).
#[allow(clippy::too_many_arguments)]
fn train_epoch(
    c: &TrainConfig,
    model: &Model,
    sgd: &mut Sgd,
    st: &mut ResumeState,
    data: &RunData,
    aug: &AugmentConfig,
    epoch: usize,
    progress: bool,
    mut stop: Stop<'_>,
) -> Result<Option<EpochMetrics>> {
    let started = Instant::now();
    let phase = st.sampler.phase(epoch);
    let mut order: Vec<usize> = (0..data.train_videos.len()).collect();
    order.shuffle(&mut st.rng);
    // Each video's table changes only through its own clip, so drawing every start up front is
    // the same as drawing each just before its batch.
    let starts: Vec<usize> = order
        .iter()
        .map(|&i| st.sampler.try_draw(i, epoch, &mut st.rng))
        .collect::<Result<_>>()?;
    let requests: Vec<ClipRequest> = order
        .iter()
        .zip(&starts)
        .map(|(&i, &start)| ClipRequest {
            video: data.train_videos[i],
            start,
        })
        .collect();
    let loader_cfg = LoaderConfig {
        batch: c.batch,
        workers: c.workers,
        prefetch: 2,
        spec: ClipSpec {
            len: c.clip_len,
            padding: Padding::Black,
        },
        augment: aug.clone(),
        mode: AugMode::Train {
            seed: c.seed,
            epoch: epoch as u64,
        },
        drop_last: false,
    };
    let loader = Loader::new(Arc::clone(&data.train), requests, loader_cfg)?;
    let bar = if progress {
        ProgressBar::new(loader.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .map_err(|e| Error::argument("progress", e.to_string()))?
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("epoch {epoch} {phase}"));
    let (mut loss_sum, mut correct, mut seen, mut on_segment, mut on_apex, mut with_truth, mut micro) =
        (0.0, 0usize, 0usize, 0usize, 0usize, 0usize, 0);
    for (b, batch) in loader.enumerate() {
        if stop.now() {
            bar.finish_and_clear();
            return Ok(None);
        }
        let batch = batch?;
        let tape = Tape::new();
        let logits = model.clip_logits(
            &tape.constant(batch.clips.to_device(model.device())?),
            true,
            mix_seed(c.seed, epoch as u64, b as u64),
        )?;
        let loss = logits.cross_entropy(&batch.labels)?;
        let values = logits.value().to_f64_vec()?;
        let classes = data.classes.len();
        for (j, &label) in batch.labels.iter().enumerate() {
            let row = &values[j * classes..(j + 1) * classes];
            let (clip_loss, ok) = scorer::video_loss(row, label);
            let i = order[b * c.batch + j];
            st.sampler
                .try_record(i, epoch, starts[b * c.batch + j], row[label] as f32, clip_loss as f32)?;
            loss_sum += clip_loss;
            correct += ok as usize;
            let id = &data.train.videos()[data.train_videos[i]].id;
            if let Some(&Truth { segment: (s, e), apex }) = data.truth.get(id) {
                let start = starts[b * c.batch + j];
                with_truth += 1;
                on_segment += (start < e && start + c.clip_len > s) as usize;
                on_apex += (start <= apex && apex < start + c.clip_len) as usize;
            }
        }
        seen += batch.labels.len();
        loss.backward()?;
        micro += 1;
        if micro == c.accumulate {
            sgd.step(micro)?;
            micro = 0;
        }
        bar.inc(1);
        bar.set_message(format!(
            "loss {:.3} acc {:.2} {:.0} clips/s",
            loss_sum / seen as f64,
            correct as f64 / seen as f64,
            seen as f64 / started.elapsed().as_secs_f64()
        ));
    }
    if micro > 0 {
        // A last partial accumulation still counts (averaged over what it holds); the reference
        // discarded it.
        sgd.step(micro)?;
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Some(EpochMetrics {
        epoch,
        phase: phase.to_string(),
        train_loss: loss_sum / seen.max(1) as f64,
        train_acc: correct as f64 / seen.max(1) as f64,
        val_loss: f64::NAN,
        val_acc: f64::NAN,
        lr_head: st.lrs[0],
        lr_backbone: st.lrs[1],
        clips_per_s: seen as f64 / seconds,
        seconds,
        on_segment_rate: (with_truth > 0).then(|| on_segment as f64 / with_truth as f64),
        apex_rate: (with_truth > 0).then(|| on_apex as f64 / with_truth as f64),
        starts: order.iter().zip(&starts).map(|(&i, &s)| (i, s)).collect(),
    }))
}

/// Re-evaluates a finished run's best checkpoint on its test split, exactly as training did,
/// with the model on `device`.
pub fn evaluate_run(dir: &Path, device: Device) -> Result<crate::infer::report::EvalReport> {
    ensure_usable(device)?;
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let c: TrainConfig = serde_json::from_str(&text).map_err(|e| Error::data(&path, e.to_string()))?;
    let data = dataset::load(&c)?;
    let model = build_model(
        &TrainConfig {
            init: None,
            ..c.clone()
        },
        data.classes.len(),
        device,
    )?;
    let best = dir.join("best.safetensors");
    checkpoint::load(&best)?.load_into(&model.parameters(), &[], &best)?;
    let videos: Vec<usize> = (0..data.test.videos().len()).collect();
    let aug = c.augment();
    crate::infer::report::evaluate(&model, data.test.as_ref(), &videos, &scoring(&c, &aug))
}

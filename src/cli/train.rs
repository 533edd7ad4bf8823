//! `stsm-engine train`: temporal stochastic softmax training. With no arguments it trains a small
//! model on the built-in synthetic benchmark and ends with its test accuracy.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::device_arg::DeviceArg;
use crate::error::{Error, Result};
use crate::sampling::SamplerKind;
use crate::train::{self, RunOptions, TrainConfig};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SamplerName {
    /// The paper's baseline: uniform clip starts every epoch, mean pooling at test.
    Uniform,
    /// Temporal stochastic softmax: warm-up, exploration, then starts ~ softmax(γ·w).
    Softmax,
    /// A learned sampling distribution trained with REINFORCE (paper Eq. 5, Table 1).
    Reinforce,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// The authors' settings (VGG-3D, batch 4 × 8 accumulated, their learning rates and weight
    /// decays rescaled for averaged accumulation).
    Reference,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A TOML file with any of the run settings (flags given here override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start from a named preset of settings.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Frame-folder root ROOT/<split>/<Class>/<video>/*.png, or a train pack (its test split's
    /// pack beside it: train.stsmpack -> test.stsmpack). Default: the synthetic benchmark.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Evaluation protocol: holdout (the data's train/test splits), kfold:K (subject-independent
    /// K-fold over all splits pooled) or loso (leave one subject out). A fold protocol trains one
    /// run directory per fold under --out (fold-00/, ...), skips finished folds, resumes an
    /// interrupted one, and writes summary.json / summary.md. Subjects come from a manifest or a
    /// pack made from one.
    #[arg(long)]
    protocol: Option<String>,
    /// With a fold protocol: train and test only this fold (0-based), e.g. one per machine.
    #[arg(long)]
    fold: Option<usize>,
    /// Seed dealing subjects to k-fold folds (default 0; independent of --seed so that runs with
    /// different seeds share their folds).
    #[arg(long)]
    protocol_seed: Option<u64>,
    /// Classes kept, renamed and merged, e.g. BL1=NoPain,PA4=Pain or BL1=NoPain,PA3=Pain,PA4=Pain;
    /// unlisted classes are dropped.
    #[arg(long)]
    class_map: Option<String>,
    /// Model: tiny-c3d, tiny-vgg3d, c3d or vgg3d.
    #[arg(long)]
    model: Option<String>,
    #[arg(long, value_enum)]
    sampler: Option<SamplerName>,
    /// Inverse temperature of clip sampling (and, unless --pool-gamma, of test pooling).
    #[arg(long)]
    gamma: Option<f64>,
    /// Inverse temperature of validation/test pooling (default: --gamma; 0 for uniform).
    #[arg(long)]
    pool_gamma: Option<f64>,
    /// REINFORCE learning rate of the per-video sampling scores.
    #[arg(long)]
    reinforce_lr: Option<f64>,
    /// Maximum number of epochs.
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch: Option<usize>,
    /// Micro-batches averaged into one SGD step.
    #[arg(long)]
    accumulate: Option<usize>,
    #[arg(long)]
    lr_head: Option<f64>,
    #[arg(long)]
    lr_backbone: Option<f64>,
    #[arg(long)]
    seed: Option<u64>,
    /// Start from this checkpoint (e.g. converted Sports-1M C3D weights, or an inflated VGG).
    #[arg(long)]
    init: Option<PathBuf>,
    /// With --init: tensors to re-initialise, e.g. fc8 (comma-separated).
    #[arg(long, value_delimiter = ',')]
    reinit: Vec<String>,
    /// On the synthetic benchmark, skip the 2D pretraining + inflation that otherwise
    /// initialises tiny-vgg3d (cached after the first run) and train from scratch.
    #[arg(long)]
    no_pretrain: bool,
    /// Run directory (default: runs/<model>-<sampler>-g<gamma>-s<seed>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory from its last epoch (its saved settings are used).
    /// Every setting comes from the run itself; only --epochs (to extend it) may be given.
    #[arg(long, conflicts_with_all = [
        "config", "preset", "data", "model", "sampler", "gamma", "out", "batch", "accumulate",
        "lr_head", "lr_backbone", "seed", "init", "reinit", "no_pretrain", "pool_gamma", "reinforce_lr",
        "protocol", "fold", "protocol_seed", "class_map",
    ])]
    resume: Option<PathBuf>,
    /// Where the model, its gradients and the momentum buffers live and every training step,
    /// validation and test pass runs: auto (the first CUDA GPU if this machine has a usable
    /// one, else the CPU), cpu, cuda, cuda:N, or cuda-emu (the CPU emulation of the CUDA
    /// kernels, in builds with --features cuda-emulation; slow, for tests). Frames are decoded
    /// and augmented, and clips sampled, on the CPU either way. A run may be resumed on another
    /// device.
    #[arg(long, default_value = "auto")]
    device: DeviceArg,
    /// No progress bars (one line per epoch only).
    #[arg(long)]
    quiet: bool,
}

fn resolve(args: &TrainArgs) -> Result<TrainConfig> {
    let mut c = match args.preset {
        Some(Preset::Reference) => TrainConfig::reference(),
        None => TrainConfig::default(),
    };
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        c = toml::from_str(&text).map_err(|e| Error::data(path, format!("not a valid run config: {e}")))?;
    }
    // γ for a newly chosen sampler: the flag, else the config's own (1 when it had none).
    let gamma = args.gamma.unwrap_or(match c.sampler {
        SamplerKind::Uniform => 1.0,
        SamplerKind::Softmax { gamma } | SamplerKind::Reinforce { gamma, .. } => gamma,
    });
    if let Some(s) = args.sampler {
        if matches!(s, SamplerName::Uniform) && args.gamma.is_some() {
            return Err(Error::argument(
                "train",
                "--gamma has no effect with --sampler uniform (clip starts are uniform); for test-time \
                 pooling give --pool-gamma",
            ));
        }
        c.sampler = match s {
            SamplerName::Uniform => SamplerKind::Uniform,
            SamplerName::Softmax => SamplerKind::Softmax { gamma },
            SamplerName::Reinforce => SamplerKind::Reinforce {
                gamma,
                lr: args.reinforce_lr.unwrap_or(0.1),
                baseline_decay: 0.9,
            },
        };
    } else if let Some(g) = args.gamma {
        c.sampler = match c.sampler {
            SamplerKind::Uniform => {
                return Err(Error::argument(
                    "train",
                    "--gamma has no effect with the uniform sampler",
                ))
            }
            SamplerKind::Softmax { .. } => SamplerKind::Softmax { gamma: g },
            SamplerKind::Reinforce { lr, baseline_decay, .. } => SamplerKind::Reinforce {
                gamma: g,
                lr,
                baseline_decay,
            },
        };
    }
    if let Some(new_lr) = args.reinforce_lr {
        match &mut c.sampler {
            SamplerKind::Reinforce { lr, .. } => *lr = new_lr,
            _ => {
                return Err(Error::argument(
                    "train",
                    "--reinforce-lr applies to the reinforce sampler only",
                ))
            }
        }
    }
    macro_rules! set {
        ($($field:ident),*) => { $( if let Some(v) = &args.$field { c.$field = v.clone(); } )* };
    }
    set!(model, epochs, batch, accumulate, lr_head, lr_backbone, seed);
    if args.data.is_some() {
        c.data = args.data.clone();
    }
    if args.pool_gamma.is_some() {
        c.pool_gamma = args.pool_gamma;
    }
    if let Some(p) = &args.protocol {
        c.protocol = crate::data::protocol::Protocol::parse(p)?.to_string();
    }
    if let Some(s) = args.protocol_seed {
        c.protocol_seed = s;
    }
    if args.class_map.is_some() {
        c.class_map = args.class_map.clone();
    }
    let holdout = c.protocol == "holdout";
    if holdout && (args.fold.is_some() || args.protocol_seed.is_some()) {
        return Err(Error::argument(
            "train",
            "--fold and --protocol-seed apply to a fold protocol only (--protocol kfold:K or loso)",
        ));
    }
    if args.init.is_some() {
        c.init = args.init.clone();
        c.reinit = args.reinit.clone();
    }
    if args.no_pretrain {
        c.pretrain.enabled = false;
    }
    c.validate()?;
    Ok(c)
}

fn default_out(c: &TrainConfig) -> PathBuf {
    let sampler = match c.sampler {
        SamplerKind::Uniform => "uniform".to_string(),
        SamplerKind::Softmax { gamma } => format!("softmax-g{gamma}"),
        SamplerKind::Reinforce { gamma, .. } => format!("reinforce-g{gamma}"),
    };
    let protocol = match c.protocol.as_str() {
        "holdout" => String::new(),
        p => format!("-{}", p.replace(':', "")),
    };
    PathBuf::from(format!("runs/{}-{sampler}-s{}{protocol}", c.model, c.seed))
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let (config, out, resume) = match &args.resume {
        Some(dir) => {
            let path = dir.join("config.json");
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let mut c: TrainConfig = serde_json::from_str(&text).map_err(|e| Error::data(&path, e.to_string()))?;
            if let Some(e) = args.epochs {
                // A run that ended (its last epoch, or an early stop) is not reopened: its
                // schedule decided to stop, and the printed result would be the old one.
                let saved = train::state::read(dir)?;
                if saved.finished && e > saved.epochs_done {
                    return Err(Error::argument(
                        "train",
                        format!(
                            "{} has finished ({} epochs); --epochs {e} cannot extend a finished run: \
                             start a new run with --epochs {e}",
                            dir.display(),
                            saved.epochs_done
                        ),
                    ));
                }
                c.epochs = e;
            }
            (c, dir.clone(), true)
        }
        None => {
            let c = resolve(args)?;
            let out = args.out.clone().unwrap_or_else(|| default_out(&c));
            (c, out, false)
        }
    };
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupt);
    // A second Ctrl-C while the epoch finishes kills the process as usual.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupt: stopping at the next batch; the last epoch's checkpoint is kept (Ctrl-C again to quit now)"
        );
    });
    let device = args.device.resolve();
    if !resume && config.protocol != "holdout" {
        println!(
            "protocol run: {} ({}, model {}, sampler {:?}, pooling γ {}, on {device})",
            out.display(),
            config.protocol,
            config.model,
            config.sampler,
            config.pooling_gamma()
        );
        let opts = crate::train::protocol::ProtocolOptions {
            out,
            only_fold: args.fold,
            progress: !args.quiet,
            device,
            interrupt_after_batches: None,
        };
        if !crate::train::protocol::run(&config, &opts, &interrupt)? {
            use std::io::Write;
            println!("interrupted; run the same command again to continue (finished folds are kept)");
            let _ = std::io::stdout().flush();
            std::process::exit(130);
        }
        return Ok(());
    }
    println!(
        "run: {} (model {}, sampler {:?}, pooling γ {}, on {device})",
        out.display(),
        config.model,
        config.sampler,
        config.pooling_gamma()
    );
    println!("{}", crate::backend::cpu::fast::isa::describe());
    let opts = RunOptions {
        out,
        resume,
        progress: !args.quiet,
        device,
        interrupt_after_batches: None,
    };
    let summary = train::run(&config, &opts, &interrupt)?;
    if interrupt.load(Ordering::SeqCst) && !summary.finished {
        // The resume hint is printed; the status tells a script the run did not finish.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::process::exit(130);
    }
    if summary.finished {
        println!(
            "done: {} epochs, best validation loss {:.4} at epoch {}; test accuracy {:.1} % (loss {:.4}) -> {}",
            summary.epochs_done,
            summary.best_val_loss.unwrap_or(f64::NAN),
            summary.best_epoch.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
            100.0 * summary.test_acc,
            summary.test_loss,
            summary.out.display()
        );
    }
    Ok(())
}

//! `stsm-engine pretrain`: trains a 2D model on still images (the first half of the paper's
//! pipeline; `inflate` then turns the result into a 3D initialisation for `train --init`).

use std::path::PathBuf;

use clap::Args;

use super::device_arg::DeviceArg;
use crate::error::Result;
use crate::train::pretrain::{self, PretrainConfig};

#[derive(Args, Debug)]
pub struct PretrainArgs {
    /// Still-image folder with labels.csv (path,label[,subject]), e.g. <synth out>/stills.
    #[arg(long)]
    stills: PathBuf,
    /// Where to write the best 2D checkpoint (safetensors).
    #[arg(long)]
    out: PathBuf,
    /// A 2D preset (temporal kernel 1).
    #[arg(long, default_value = "tiny-vgg2d")]
    model: String,
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Learning rate (a tenth of it for the last quarter of the epochs).
    #[arg(long, default_value_t = 0.002)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Frames are resized to this square size, then randomly (training) or centrally cropped.
    #[arg(long, default_value_t = 72)]
    resize: usize,
    #[arg(long, default_value_t = 64)]
    crop: usize,
    /// Dropout of fc6 and fc7.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Divisor after mean subtraction, one value for all channels (default: the synthetic
    /// frames' pixel std, 0.2; the reference recipe on AFEW uses 1).
    #[arg(long)]
    input_std: Option<f32>,
    /// Add rotation (±20°) and colour jitter to the flips and random crops (the reference recipe).
    #[arg(long)]
    full_augment: bool,
    /// Where the model and the optimizer state live and every step runs: auto (the first CUDA
    /// GPU if this machine has a usable one, else the CPU), cpu, cuda, cuda:N, or cuda-emu (the
    /// CPU emulation of the CUDA kernels, in builds with --features cuda-emulation; slow).
    /// Images are decoded and augmented on the CPU either way.
    #[arg(long, default_value = "auto")]
    device: DeviceArg,
}

pub fn run(args: &PretrainArgs) -> Result<()> {
    let cfg = PretrainConfig {
        stills: args.stills.clone(),
        model: args.model.clone(),
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        resize: args.resize,
        crop: args.crop,
        dropout: Some(args.dropout),
        full_augment: args.full_augment,
        ..PretrainConfig::default()
    };
    let cfg = PretrainConfig {
        input_std: args.input_std.map_or(cfg.input_std, |s| [s; 3]),
        ..cfg
    };
    let summary = pretrain::run(&cfg, &args.out, args.device.resolve())?;
    println!(
        "pretrained {} on {} classes: best validation accuracy {:.1} % (epoch {}) -> {}",
        cfg.model,
        summary.classes.len(),
        100.0 * summary.best_val_acc,
        summary.best_epoch,
        args.out.display()
    );
    println!(
        "next: stsm-engine inflate --from {} --to inflated.safetensors, then train --model tiny-vgg3d --init inflated.safetensors --reinit head.3",
        args.out.display()
    );
    Ok(())
}

//! `stsm-engine pretrain`: trains a 2D model on still images (the first half of the paper's
//! pipeline; `inflate` then turns the result into a 3D initialisation for `train --init`).

use std::path::PathBuf;

use clap::Args;

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
    #[arg(long, default_value_t = 15)]
    epochs: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: &PretrainArgs) -> Result<()> {
    let cfg = PretrainConfig {
        stills: args.stills.clone(),
        model: args.model.clone(),
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        ..PretrainConfig::default()
    };
    let summary = pretrain::run(&cfg, &args.out)?;
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

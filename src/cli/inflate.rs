//! `stsm-engine inflate`: turns a 2D checkpoint into the initialisation of its 3D counterpart.

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::nn::checkpoint;
use crate::nn::inflate::{inflate_checkpoint, InflateOptions};

#[derive(Args, Debug)]
pub struct InflateArgs {
    /// 2D checkpoint (safetensors): ours (e.g. from `pretrain`) or converted from PyTorch.
    #[arg(long)]
    from: PathBuf,
    /// Where to write the 3D checkpoint.
    #[arg(long)]
    to: PathBuf,
    /// Temporal kernel size of the inflated convs (odd).
    #[arg(long, default_value_t = 3)]
    time_kernel: usize,
    /// Put the 2D kernel in the middle time slice (zeros elsewhere) instead of repeating it / KT.
    #[arg(long)]
    center: bool,
    /// Clip length recorded in the inflated model's config.
    #[arg(long, default_value_t = 16)]
    frames: usize,
}

pub fn run(args: &InflateArgs) -> Result<()> {
    let ckpt = checkpoint::load(&args.from)?;
    let opts = InflateOptions {
        time_kernel: args.time_kernel,
        center: args.center,
        frames: args.frames,
    };
    let (tensors, meta) = inflate_checkpoint(&ckpt, &opts)?;
    checkpoint::save(&args.to, &tensors, meta.as_ref())?;
    let convs = tensors.iter().filter(|(_, t)| t.rank() == 5).count();
    println!(
        "inflated {convs} conv weights (KT = {}), copied {} other tensors -> {}",
        args.time_kernel,
        tensors.len() - convs,
        args.to.display()
    );
    Ok(())
}

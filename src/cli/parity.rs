//! `stsm-engine parity`: runs the full-size PyTorch parity clip (see `nn::parity`) and prints the
//! logits, or the whole report as JSON for `scripts/torch-parity.py --compare`.

use clap::Args;

use crate::error::{Error, Result};
use crate::nn::parity;

#[derive(Args, Debug)]
pub struct ParityArgs {
    /// c3d or vgg3d.
    #[arg(long)]
    model: String,
    /// Print the full report (logits, loss, gradient norms and samples) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ParityArgs) -> Result<()> {
    let report = parity::run(&args.model)?;
    if args.json {
        let json = serde_json::to_string(&report).map_err(|e| Error::argument("parity", e.to_string()))?;
        println!("{json}");
    } else {
        println!("{}: loss {:.6}, logits {:?}", report.model, report.loss, report.logits);
    }
    Ok(())
}

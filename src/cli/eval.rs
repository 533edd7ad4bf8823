//! `stsm-engine eval`: accuracy, confusion matrix and per-class recall (ROC-AUC and EER accuracy
//! for two classes) of a checkpoint on a dataset split, as text and JSON.

use std::path::PathBuf;

use clap::Args;

use super::checkpoint_args::BareCheckpointArgs;
use super::scoring_args::ScoringArgs;
use crate::error::{Error, Result};
use crate::infer::evaluate::ScoringConfig;
use crate::infer::loaded::LoadedModel;
use crate::infer::pooling::Pooling;
use crate::infer::report::{self, EvalReport};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A run directory: its best checkpoint on its test split, scored exactly as training did.
    #[arg(long, conflicts_with_all = ["checkpoint", "data"])]
    run: Option<PathBuf>,
    /// A checkpoint written by stsm-engine (its metadata gives model, classes, preprocessing, γ).
    #[arg(long, requires = "data")]
    checkpoint: Option<PathBuf>,
    /// The videos: a pack file (see `stsm-engine pack`) or a frame-folder root
    /// ROOT/<split>/<Class>/<video>/.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Split folder of a frame-folder root.
    #[arg(long, default_value = "test")]
    split: String,
    #[command(flatten)]
    scoring: ScoringArgs,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    #[command(flatten)]
    bare: BareCheckpointArgs,
}

fn from_checkpoint(args: &EvalArgs, path: &std::path::Path, data: &std::path::Path) -> Result<EvalReport> {
    let loaded = LoadedModel::load(path, args.bare.meta()?, args.scoring.device)?;
    let source = loaded.open_data(data, &args.split)?;
    let gamma = match args.scoring.pooling(loaded.default_gamma())? {
        Pooling::Softmax { gamma } => gamma,
        Pooling::Max => f64::INFINITY,
    };
    let scoring = ScoringConfig {
        clip_len: loaded.clip_len(),
        stride: args.scoring.stride,
        gamma,
        augment: loaded.augment.clone(),
    };
    let videos: Vec<usize> = (0..source.videos().len()).collect();
    report::evaluate(&loaded.model, source.as_ref(), &videos, &scoring)
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let report = match (&args.run, &args.checkpoint, &args.data) {
        (Some(dir), _, _) => crate::train::evaluate_run(dir, args.scoring.device)?,
        (None, Some(ckpt), Some(data)) => from_checkpoint(args, ckpt, data)?,
        _ => {
            return Err(Error::argument(
                "eval",
                "give --run DIR, or --checkpoint FILE with --data PACK|ROOT",
            ))
        }
    };
    print!("{}", report.text());
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).map_err(|e| Error::data(path, e.to_string()))?;
        crate::fsutil::write_atomically(path, |f| std::io::Write::write_all(f, &json))?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

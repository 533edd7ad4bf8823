//! `stsm-engine eval`: accuracy, confusion matrix and per-class recall (ROC-AUC and EER accuracy
//! for two classes) of a checkpoint on a dataset split, as text and JSON.

use std::path::PathBuf;

use clap::Args;

use crate::data::{AugmentConfig, Pack, VideoSource};
use crate::error::{Error, Result};
use crate::infer::evaluate::ScoringConfig;
use crate::infer::report::{self, EvalReport};
use crate::nn::checkpoint;
use crate::nn::layers::Module;
use crate::nn::Model;
use crate::tensor::DType;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A run directory: its best checkpoint on its test split, scored exactly as training did.
    #[arg(long, conflicts_with_all = ["checkpoint", "data"])]
    run: Option<PathBuf>,
    /// A checkpoint written by stsm-engine (its metadata gives model, classes, preprocessing, γ).
    #[arg(long, requires = "data")]
    checkpoint: Option<PathBuf>,
    /// A pack file of the videos to evaluate (see `stsm-engine pack`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Pooling γ (default: the checkpoint's).
    #[arg(long)]
    gamma: Option<f64>,
    /// C3D window stride.
    #[arg(long, default_value_t = 1)]
    stride: usize,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn from_checkpoint(
    path: &std::path::Path,
    data: &std::path::Path,
    gamma: Option<f64>,
    stride: usize,
) -> Result<EvalReport> {
    let ckpt = checkpoint::load(path)?;
    let meta = ckpt.meta.clone().ok_or_else(|| {
        Error::data(
            path,
            "has no stsm-engine metadata (model config, classes, preprocessing); train with stsm-engine or use --run",
        )
    })?;
    let source = Pack::open(data)?;
    if source.classes() != meta.classes.as_slice() {
        return Err(Error::data(
            data,
            format!(
                "classes {:?} differ from the checkpoint's {:?}",
                source.classes(),
                meta.classes
            ),
        ));
    }
    // Weights come from the checkpoint; the init is only there to build the layers.
    let model = Model::seeded(meta.model.clone(), DType::F32, 0)?;
    ckpt.load_into(&model.parameters(), &[], path)?;
    let pre = meta
        .preprocessing
        .as_ref()
        .ok_or_else(|| Error::data(path, "metadata lacks preprocessing"))?;
    let augment = AugmentConfig {
        mean: pre.mean,
        std: pre.std,
        ..AugmentConfig::scaled(pre.resize[0], pre.crop[0])
    };
    let scoring = ScoringConfig {
        clip_len: meta.model.input[0],
        stride,
        gamma: gamma.or(meta.pooling_gamma).unwrap_or(1.0),
        augment,
    };
    let videos: Vec<usize> = (0..source.videos().len()).collect();
    report::evaluate(&model, &source, &videos, &scoring)
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let report = match (&args.run, &args.checkpoint, &args.data) {
        (Some(dir), _, _) => crate::train::evaluate_run(dir)?,
        (None, Some(ckpt), Some(data)) => from_checkpoint(ckpt, data, args.gamma, args.stride)?,
        _ => {
            return Err(Error::argument(
                "eval",
                "give --run DIR, or --checkpoint FILE with --data PACK",
            ))
        }
    };
    print!("{}", report.text());
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).map_err(|e| Error::data(path, e.to_string()))?;
        crate::fsutil::write_atomically(path, |f| std::io::Write::write_all(f, &json))?;
    }
    Ok(())
}

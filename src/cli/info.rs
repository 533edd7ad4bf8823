//! `stsm-engine info`: a model's layers, output shapes, parameter count and FLOPs per clip.

use clap::Args;

use crate::error::Result;
use crate::nn::checkpoint;
use crate::nn::layers::Module;
use crate::nn::model::describe;
use crate::nn::{Model, ModelConfig};
use crate::tensor::DType;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Model preset: c3d, vgg3d, tiny-c3d, tiny-vgg3d or tiny-vgg2d.
    #[arg(long)]
    model: String,
    /// Number of output classes.
    #[arg(long, default_value_t = 7)]
    classes: usize,
    /// Also check that this checkpoint (safetensors) loads into the model: every name and shape.
    #[arg(long)]
    checkpoint: Option<std::path::PathBuf>,
    /// With --checkpoint: tensors to leave freshly initialised (e.g. fc8), comma-separated.
    #[arg(long, value_delimiter = ',')]
    reinit: Vec<String>,
}

fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn run(args: &InfoArgs) -> Result<()> {
    let config = ModelConfig::preset(&args.model, args.classes)?;
    let rows = describe(&config)?;
    let [t, h, w] = config.input;
    println!(
        "{} ({:?}), input 1 x {} x {t} x {h} x {w}, {} classes",
        config.preset, config.family, config.in_channels, config.classes
    );
    println!(
        "{:<14} {:<12} {:>24} {:>14} {:>12}",
        "layer", "kind", "output", "parameters", "GFLOP"
    );
    for r in &rows {
        let shape = format!("{:?}", r.output);
        println!(
            "{:<14} {:<12} {:>24} {:>14} {:>12.3}",
            r.name,
            r.kind,
            shape,
            grouped(r.params),
            2.0 * r.macs as f64 / 1e9
        );
    }
    let params: usize = rows.iter().map(|r| r.params).sum();
    let gflop: f64 = rows.iter().map(|r| 2.0 * r.macs as f64).sum::<f64>() / 1e9;
    if let Some(path) = &args.checkpoint {
        let model = Model::seeded(config.clone(), DType::F32, 0)?;
        checkpoint::load(path)?.load_into(&model.parameters(), &args.reinit, path)?;
        println!(
            "{} loads into {} (re-initialised: {:?})",
            path.display(),
            config.preset,
            args.reinit
        );
    }
    println!(
        "total: {} parameters ({:.1} M), {gflop:.1} GFLOP forward per clip (2 x multiply-adds, padding taps included)",
        grouped(params),
        params as f64 / 1e6
    );
    Ok(())
}

//! `stsm-engine sweep`: the γ × sampler × seed grid of the paper's Table 1 on one dataset.
//! Finished cells are skipped and interrupted ones resumed, so re-running continues the grid.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use clap::Args;

use super::device_arg::DeviceArg;
use crate::error::{Error, Result};
use crate::train::sweep;
use crate::train::TrainConfig;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Inverse temperatures, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [0.0, 0.5, 1.0, 10.0])]
    gamma: Vec<f64>,
    /// Seeds per cell (0 .. N-1); paired across samplers and γ.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Samplers, comma-separated: uniform, softmax, reinforce.
    #[arg(long, value_delimiter = ',', default_values_t = ["uniform".to_string(), "softmax".to_string()])]
    sampler: Vec<String>,
    /// Learning rate of REINFORCE's sampling scores.
    #[arg(long, default_value_t = 0.1)]
    reinforce_lr: f64,
    /// Base settings of every run (TOML, as `train --config`); the grid varies sampler, γ, seed.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Evaluation protocol of every run (as `train --protocol`): holdout, kfold:K or loso; a fold
    /// protocol makes the fold one more axis of the grid (RUN/fold-NN/).
    #[arg(long)]
    protocol: Option<String>,
    /// Classes kept, renamed and merged (as `train --class-map`).
    #[arg(long)]
    class_map: Option<String>,
    /// Data of every run (as `train --data`; overrides the config).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Maximum epochs per run (overrides the config).
    #[arg(long)]
    epochs: Option<usize>,
    /// Directory of the grid (one run directory per cell).
    #[arg(long, default_value = "runs/sweep")]
    out: PathBuf,
    /// Only print the table of the cells finished so far.
    #[arg(long)]
    table_only: bool,
    /// Where every run trains (as `train --device`): auto, cpu, cuda, cuda:N or cuda-emu.
    #[arg(long, default_value = "auto")]
    device: DeviceArg,
}

pub fn run(args: &SweepArgs) -> Result<()> {
    let mut base = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            toml::from_str(&text).map_err(|e| Error::data(path, format!("not a valid run config: {e}")))?
        }
        None => TrainConfig::default(),
    };
    if let Some(e) = args.epochs {
        base.epochs = e;
    }
    if let Some(p) = &args.protocol {
        base.protocol = crate::data::protocol::Protocol::parse(p)?.to_string();
    }
    if args.class_map.is_some() {
        base.class_map = args.class_map.clone();
    }
    if args.data.is_some() {
        base.data = args.data.clone();
    }
    base.validate()?;
    if args.seeds == 0 || args.gamma.is_empty() || args.sampler.is_empty() {
        return Err(Error::argument(
            "sweep",
            "--seeds, --gamma and --sampler must not be empty",
        ));
    }
    if !args.table_only {
        let folds = if base.protocol == "holdout" {
            None
        } else {
            let split = crate::train::dataset::protocol_split(&base)?;
            std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
            Some(split)
        };
        let cells = sweep::cells(
            &args.out,
            &args.sampler,
            &args.gamma,
            args.seeds,
            folds.as_ref().map(|s| s.folds.len()),
        );
        if let Some(split) = &folds {
            // Every run directory records its folds (report counts the unfinished ones).
            let runs: std::collections::BTreeSet<PathBuf> =
                cells.iter().filter_map(|c| c.dir.parent().map(PathBuf::from)).collect();
            for run in runs {
                std::fs::create_dir_all(&run).map_err(|e| Error::io(&run, e))?;
                split.save(&run.join("protocol-split.json"))?;
            }
        }
        let device = args.device.resolve();
        sweep::run(&base, &cells, args.reinforce_lr, device, &AtomicBool::new(false))?;
    }
    // The sweep's table is the report's (one implementation), kept as table.md too.
    let table = crate::train::report::write(&args.out)?;
    crate::fsutil::write_atomically(&args.out.join("table.md"), |f| {
        std::io::Write::write_all(f, table.as_bytes())
    })?;
    println!("{table}");
    Ok(())
}

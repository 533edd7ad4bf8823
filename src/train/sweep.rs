//! A grid of runs (samplers × γ × seeds, × folds under a fold protocol) in one directory,
//! resumable cell by cell; its tables are `report`'s (train/report.rs).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::config::TrainConfig;
use super::metrics;
use super::trainer::{self, RunOptions};
use crate::error::{Error, Result};
use crate::sampling::SamplerKind;
use crate::tensor::Device;

/// One cell of the grid.
#[derive(Clone, Debug)]
pub struct Cell {
    pub sampler: String,
    pub gamma: f64,
    pub seed: u64,
    /// Under a fold protocol, the fold this cell trains (its dir is `<run>/fold-NN`).
    pub fold: Option<usize>,
    pub dir: PathBuf,
}

/// The finished result of one cell.
#[derive(Clone, Debug)]
pub struct CellResult {
    pub test_acc: f64,
    /// Two-class runs: (s1 − s0, is class 1) per test video, for ROC-AUC and EER accuracy.
    pub binary: Option<Vec<(f64, bool)>>,
    pub best_epoch: usize,
    pub on_segment: Option<f64>,
    /// Mean apex-hit rate of the exploitation epochs.
    pub apex: Option<f64>,
}

/// Every (sampler, γ, seed[, fold]) cell; the uniform sampler ignores γ, so it appears once per
/// seed. With `folds` (a fold protocol), each run is a protocol directory of fold cells.
pub fn cells(root: &Path, samplers: &[String], gammas: &[f64], seeds: u64, folds: Option<usize>) -> Vec<Cell> {
    let mut cells = Vec::new();
    for sampler in samplers {
        let gs: Vec<f64> = if sampler == "uniform" {
            vec![0.0]
        } else {
            gammas.to_vec()
        };
        for &gamma in &gs {
            for seed in 0..seeds {
                let dir = root.join(format!("{sampler}-g{gamma}-s{seed}"));
                let fold_cells: Vec<Option<usize>> = match folds {
                    Some(n) => (0..n).map(Some).collect(),
                    None => vec![None],
                };
                for fold in fold_cells {
                    cells.push(Cell {
                        sampler: sampler.clone(),
                        gamma,
                        seed,
                        fold,
                        dir: fold.map_or_else(|| dir.clone(), |f| super::protocol::fold_dir(&dir, f)),
                    });
                }
            }
        }
    }
    cells
}

fn kind(sampler: &str, gamma: f64, reinforce_lr: f64) -> Result<SamplerKind> {
    match sampler {
        "uniform" => Ok(SamplerKind::Uniform),
        "softmax" => Ok(SamplerKind::Softmax { gamma }),
        "reinforce" => Ok(SamplerKind::Reinforce {
            gamma,
            lr: reinforce_lr,
            baseline_decay: 0.9,
        }),
        other => Err(Error::argument(
            "sweep",
            format!("unknown sampler {other:?}; use uniform, softmax, reinforce"),
        )),
    }
}

/// Reads a finished cell (None when it has not finished).
pub fn result(cell: &Cell) -> Result<Option<CellResult>> {
    run_result(&cell.dir)
}

/// Reads the finished run in `dir` (None when it has not finished).
pub fn run_result(dir: &Path) -> Result<Option<CellResult>> {
    let test = dir.join("test.json");
    if !test.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&test).map_err(|e| Error::io(&test, e))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::data(&test, e.to_string()))?;
    let test_acc = value["test_acc"]
        .as_f64()
        .ok_or_else(|| Error::data(&test, "no test_acc"))?;
    let history = metrics::read(&dir.join("metrics.jsonl"))?;
    // The epoch of the run's best checkpoint (its search restarts when exploitation starts);
    // runs without that record: the lowest validation loss.
    let recorded = super::state::read(dir).ok().and_then(|s| s.best_epoch);
    let best_epoch = match recorded {
        Some(e) => e,
        None => history
            .iter()
            .min_by(|a, b| {
                let loss = |m: &metrics::EpochMetrics| m.val_loss.unwrap_or(f64::INFINITY);
                loss(a).total_cmp(&loss(b))
            })
            .map(|m| m.epoch)
            .unwrap_or(0),
    };
    let exploitation = |rate: fn(&metrics::EpochMetrics) -> Option<f64>| {
        let rates: Vec<f64> = history
            .iter()
            .filter(|m| m.phase == "exploitation")
            .filter_map(rate)
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
    };
    // Two-class runs: each test video's ROC score s1 − s0 and whether it is positive (class 1).
    let binary = value["per_video"].as_array().and_then(|videos| {
        videos
            .iter()
            .map(|v| {
                let s = v["scores"].as_array().filter(|s| s.len() == 2)?;
                Some((s[1].as_f64()? - s[0].as_f64()?, v["label"].as_u64()? == 1))
            })
            .collect::<Option<Vec<(f64, bool)>>>()
            .filter(|v| !v.is_empty())
    });
    Ok(Some(CellResult {
        test_acc,
        binary,
        best_epoch,
        on_segment: exploitation(|m| m.on_segment_rate),
        apex: exploitation(|m| m.apex_rate),
    }))
}

/// Runs every unfinished cell (resuming interrupted ones) with `base` settings on `device`.
pub fn run(
    base: &TrainConfig,
    cells: &[Cell],
    reinforce_lr: f64,
    device: Device,
    interrupt: &AtomicBool,
) -> Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        if result(cell)?.is_some() {
            println!("[{}/{}] {} done, skipped", i + 1, cells.len(), cell.dir.display());
            continue;
        }
        let config = TrainConfig {
            sampler: kind(&cell.sampler, cell.gamma, reinforce_lr)?,
            seed: cell.seed,
            fold: cell.fold,
            ..base.clone()
        };
        println!("[{}/{}] {}", i + 1, cells.len(), cell.dir.display());
        let resume = super::state::exists(&cell.dir);
        let opts = RunOptions {
            out: cell.dir.clone(),
            resume,
            progress: false,
            device,
            interrupt_after_batches: None,
        };
        let summary = trainer::run(&config, &opts, interrupt)?;
        if !summary.finished {
            return Err(Error::argument(
                "sweep",
                "interrupted; run the same command again to continue",
            ));
        }
        // The protocol directory's summary, over its folds finished so far.
        if let (Some(_), Some(run_dir)) = (cell.fold, cell.dir.parent()) {
            let total = cells.iter().filter(|c| c.dir.parent() == Some(run_dir)).count();
            super::protocol::summarize(run_dir, total)?.write(run_dir)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_appears_once_per_seed() {
        let c = cells(
            Path::new("r"),
            &["uniform".into(), "softmax".into()],
            &[0.0, 1.0],
            2,
            None,
        );
        let names: Vec<String> = c.iter().map(|c| c.dir.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "r/uniform-g0-s0",
                "r/uniform-g0-s1",
                "r/softmax-g0-s0",
                "r/softmax-g0-s1",
                "r/softmax-g1-s0",
                "r/softmax-g1-s1"
            ]
        );
    }
}

//! A grid of runs (samplers × γ × seeds) in one directory, resumable cell by cell, summarised in
//! the layout of the paper's Table 1: mean ± std test accuracy, mean epochs to the best
//! validation loss, and (on synthetic data) the mean on-segment rate in exploitation.

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
    pub dir: PathBuf,
}

/// The finished result of one cell.
#[derive(Clone, Debug)]
pub struct CellResult {
    pub test_acc: f64,
    pub best_epoch: usize,
    pub on_segment: Option<f64>,
    /// Mean apex-hit rate of the exploitation epochs.
    pub apex: Option<f64>,
}

/// Every (sampler, γ, seed) cell; the uniform sampler ignores γ, so it appears once per seed.
pub fn cells(root: &Path, samplers: &[String], gammas: &[f64], seeds: u64) -> Vec<Cell> {
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
                cells.push(Cell {
                    sampler: sampler.clone(),
                    gamma,
                    seed,
                    dir,
                });
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
    let test = cell.dir.join("test.json");
    if !test.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&test).map_err(|e| Error::io(&test, e))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::data(&test, e.to_string()))?;
    let test_acc = value["test_acc"]
        .as_f64()
        .ok_or_else(|| Error::data(&test, "no test_acc"))?;
    let history = metrics::read(&cell.dir.join("metrics.jsonl"))?;
    // The epoch of the run's best checkpoint (its search restarts when exploitation starts);
    // runs without that record: the lowest validation loss.
    let recorded = std::fs::read_to_string(cell.dir.join("last.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["best_epoch"].as_u64());
    let best_epoch = match recorded {
        Some(e) => e as usize,
        None => history
            .iter()
            .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
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
    Ok(Some(CellResult {
        test_acc,
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
            ..base.clone()
        };
        println!("[{}/{}] {}", i + 1, cells.len(), cell.dir.display());
        let resume = cell.dir.join("last.json").exists();
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
    }
    Ok(())
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// The markdown table: one row per (sampler, γ), over its finished seeds.
fn rate(values: impl Iterator<Item = Option<f64>>) -> String {
    let v: Vec<f64> = values.flatten().collect();
    if v.is_empty() {
        "-".to_string()
    } else {
        format!("{:.2}", mean_std(&v).0)
    }
}

/// A paired comparison of accuracies (in %) on the same seeds: (wins of `a`, ties, mean of
/// a - b, its standard error).
pub fn paired(a: &[f64], b: &[f64]) -> (usize, usize, f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (mean, sd) = mean_std(&d);
    let wins = d.iter().filter(|&&x| x > 0.0).count();
    let ties = d.iter().filter(|&&x| x == 0.0).count();
    (wins, ties, mean, sd / (d.len().max(1) as f64).sqrt())
}

/// A row of the sweep table: (sampler, γ).
type SweepKey = (String, f64);

pub fn table(cells: &[Cell]) -> Result<String> {
    let mut rows = vec![
        "| sampler | γ | seeds | test accuracy (%) | epochs to best val loss | on-segment rate (exploitation) | apex-hit rate (exploitation) |"
            .to_string(),
        "|---|---|---|---|---|---|---|".to_string(),
    ];
    let mut keys: Vec<SweepKey> = cells.iter().map(|c| (c.sampler.clone(), c.gamma)).collect();
    keys.dedup();
    // (seed, accuracy in %) of every finished cell, by (sampler, γ).
    let mut accs: Vec<(SweepKey, Vec<(u64, f64)>)> = Vec::new();
    for (sampler, gamma) in keys {
        let results: Vec<(u64, CellResult)> = cells
            .iter()
            .filter(|c| c.sampler == sampler && c.gamma == gamma)
            .map(|c| Ok(result(c)?.map(|r| (c.seed, r))))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        if results.is_empty() {
            continue;
        }
        let (acc, sd) = mean_std(&results.iter().map(|(_, r)| 100.0 * r.test_acc).collect::<Vec<_>>());
        let (epochs, _) = mean_std(&results.iter().map(|(_, r)| r.best_epoch as f64).collect::<Vec<_>>());
        let g = if sampler == "uniform" {
            "-".to_string()
        } else {
            gamma.to_string()
        };
        rows.push(format!(
            "| {sampler} | {g} | {} | {acc:.1} ± {sd:.1} | {epochs:.1} | {} | {} |",
            results.len(),
            rate(results.iter().map(|(_, r)| r.on_segment)),
            rate(results.iter().map(|(_, r)| r.apex)),
        ));
        accs.push((
            (sampler, gamma),
            results.iter().map(|(s, r)| (*s, 100.0 * r.test_acc)).collect(),
        ));
    }
    // Each sampler against uniform on the seeds both finished (same seed: same split, data
    // order draws and head initialisation).
    if let Some((_, base)) = accs.iter().find(|((s, _), _)| s == "uniform") {
        let mut lines = Vec::new();
        for ((sampler, gamma), mine) in accs.iter().filter(|((s, _), _)| s != "uniform") {
            let pairs: Vec<(f64, f64)> = mine
                .iter()
                .filter_map(|(seed, a)| base.iter().find(|(s, _)| s == seed).map(|(_, b)| (*a, *b)))
                .collect();
            if pairs.is_empty() {
                continue;
            }
            let (a, b): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
            let (wins, ties, mean, se) = paired(&a, &b);
            lines.push(format!(
                "| {sampler} γ={gamma} − uniform | {} | {wins} / {ties} / {} | {mean:+.1} ± {se:.1} | {:.1} |",
                a.len(),
                a.len() - wins - ties,
                if se > 0.0 { mean / se } else { f64::NAN },
            ));
        }
        if !lines.is_empty() {
            rows.push(String::new());
            rows.push(
                "| paired by seed | seeds | wins / ties / losses | mean gap (points) ± s.e. | gap / s.e. |".into(),
            );
            rows.push("|---|---|---|---|---|".into());
            rows.extend(lines);
        }
    }
    Ok(rows.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_appears_once_per_seed() {
        let c = cells(Path::new("r"), &["uniform".into(), "softmax".into()], &[0.0, 1.0], 2);
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

    #[test]
    fn paired_gap_counts_wins_and_standard_error() {
        // Differences 2, -1, 2, 0.5: mean 0.875, sample sd sqrt(((1.125)^2·2 + 1.875^2 + 0.375^2)/3).
        let (wins, ties, mean, se) = paired(&[12.0, 9.0, 7.0, 5.5], &[10.0, 10.0, 5.0, 5.0]);
        let sd = ((2.0 * 1.125f64.powi(2) + 1.875f64.powi(2) + 0.375f64.powi(2)) / 3.0).sqrt();
        assert_eq!((wins, ties), (3, 0));
        assert!((mean - 0.875).abs() < 1e-12);
        assert!((se - sd / 2.0).abs() < 1e-12);
    }

    #[test]
    fn sample_standard_deviation() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert_eq!((m, s), (2.0, 1.0));
    }
}

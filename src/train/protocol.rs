//! A subject-independent protocol run (`train --protocol kfold:K|loso`): one run directory per
//! fold (`OUT/fold-03/`), trained in turn, finished folds skipped and an interrupted one resumed;
//! then `summary.json` and `summary.md` over the finished folds.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::dataset;
use super::state;
use super::trainer::{self, RunOptions};
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use crate::infer::metrics::{eer_accuracy, roc_auc};
use crate::tensor::Device;

/// How to run a protocol's folds (what to train is the `TrainConfig`).
#[derive(Clone, Debug)]
pub struct ProtocolOptions {
    pub out: PathBuf,
    /// Only this fold (folds spread over machines); None: every fold in turn.
    pub only_fold: Option<usize>,
    pub progress: bool,
    pub device: Device,
    /// As `RunOptions::interrupt_after_batches`, counted over this invocation's folds.
    pub interrupt_after_batches: Option<usize>,
}

/// The run directory of fold `fold` under `out`.
pub fn fold_dir(out: &Path, fold: usize) -> PathBuf {
    out.join(format!("fold-{fold:02}"))
}

/// Trains the folds of `base.protocol` under `opts.out`. Returns whether every fold asked for
/// finished (false after an interrupt; running the same command again continues).
pub fn run(base: &TrainConfig, opts: &ProtocolOptions, interrupt: &AtomicBool) -> Result<bool> {
    base.validate()?;
    let split = dataset::protocol_split(base)?;
    let n = split.folds.len();
    let folds: Vec<usize> = match opts.only_fold {
        Some(f) if f >= n => {
            return Err(Error::argument(
                "--fold",
                format!(
                    "{f} is out of range: --protocol {} has {n} folds (0 .. {})",
                    base.protocol,
                    n - 1
                ),
            ))
        }
        Some(f) => vec![f],
        None => (0..n).collect(),
    };
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    split.save(&opts.out.join("protocol-split.json"))?;
    // (A test's batch budget applies to each fold run by this invocation.)
    let budget = opts.interrupt_after_batches;
    for &f in &folds {
        let dir = fold_dir(&opts.out, f);
        if dir.join("test.json").exists() {
            println!("[fold {}/{n}] {} done, skipped", f + 1, dir.display());
            continue;
        }
        let resume = state::exists(&dir);
        // A resumed fold continues under the settings it started with (as `train --resume`).
        let config = if resume {
            let path = dir.join("config.json");
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            serde_json::from_str(&text).map_err(|e| Error::data(&path, e.to_string()))?
        } else {
            TrainConfig {
                fold: Some(f),
                ..base.clone()
            }
        };
        println!(
            "[fold {}/{n}] {} ({}){}",
            f + 1,
            dir.display(),
            split.folds[f].name,
            if resume { ", resumed" } else { "" }
        );
        let run_opts = RunOptions {
            out: dir.clone(),
            resume,
            progress: opts.progress,
            device: opts.device,
            interrupt_after_batches: budget,
        };
        let summary = trainer::run(&config, &run_opts, interrupt)?;
        if !summary.finished {
            return Ok(false);
        }
    }
    let summary = summarize(&opts.out, n)?;
    summary.write(&opts.out)?;
    println!("{}", summary.markdown());
    Ok(true)
}

/// One fold's test result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldResult {
    pub fold: usize,
    pub videos: usize,
    pub accuracy: f64,
    /// Two classes with both present in the fold's test videos only.
    pub roc_auc: Option<f64>,
    pub eer_accuracy: Option<f64>,
}

/// A metric over folds: mean ± sample std over the folds where it is defined, and the same
/// metric on every fold's scores pooled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub folds_used: usize,
    pub pooled: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub protocol: String,
    pub classes: Vec<String>,
    pub folds_total: usize,
    pub folds_finished: usize,
    pub folds: Vec<FoldResult>,
    pub accuracy: Aggregate,
    /// Two-class data only; the second class is the positive one, scored by s1 − s0.
    pub roc_auc: Option<Aggregate>,
    pub eer_accuracy: Option<Aggregate>,
    pub note: String,
}

/// One test video as `test.json` records it.
#[derive(Clone, Debug, Deserialize)]
struct TestVideo {
    label: usize,
    scores: Vec<f64>,
}

#[derive(Clone, Debug, Deserialize)]
struct TestRecord {
    test_acc: f64,
    #[serde(default)]
    classes: Vec<String>,
    #[serde(default)]
    per_video: Vec<TestVideo>,
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn aggregate(per_fold: &[Option<f64>], pooled: Option<f64>) -> Aggregate {
    let used: Vec<f64> = per_fold.iter().flatten().copied().collect();
    let (mean, std) = if used.is_empty() {
        (None, None)
    } else {
        let (m, s) = mean_std(&used);
        (Some(m), Some(s))
    };
    Aggregate {
        mean,
        std,
        folds_used: used.len(),
        pooled,
    }
}

/// Two-class ROC scores (s1 − s0) and positive flags; None with another number of classes.
fn binary(videos: &[TestVideo]) -> Option<(Vec<f64>, Vec<bool>)> {
    if videos.iter().any(|v| v.scores.len() != 2) || videos.is_empty() {
        return None;
    }
    Some((
        videos.iter().map(|v| v.scores[1] - v.scores[0]).collect(),
        videos.iter().map(|v| v.label == 1).collect(),
    ))
}

/// Reads the finished folds (`fold-NN/test.json`) of the protocol run in `out` with `total`
/// folds.
pub fn summarize(out: &Path, total: usize) -> Result<Summary> {
    let mut folds = Vec::new();
    let mut pooled: Vec<TestVideo> = Vec::new();
    let mut classes = Vec::new();
    let mut protocol = String::new();
    for f in 0..total {
        let dir = fold_dir(out, f);
        let path = dir.join("test.json");
        if !path.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let record: TestRecord =
            serde_json::from_str(&text).map_err(|e| Error::data(&path, format!("not a test record: {e}")))?;
        if protocol.is_empty() {
            let config = dir.join("config.json");
            if let Ok(text) = std::fs::read_to_string(&config) {
                if let Ok(c) = serde_json::from_str::<TrainConfig>(&text) {
                    protocol = c.protocol;
                }
            }
        }
        if classes.is_empty() {
            classes = record.classes.clone();
        }
        let (auc, eer) = match binary(&record.per_video) {
            Some((s, p)) => (roc_auc(&s, &p).ok(), eer_accuracy(&s, &p).ok().map(|(_, a)| a)),
            None => (None, None),
        };
        folds.push(FoldResult {
            fold: f,
            videos: record.per_video.len(),
            accuracy: record.test_acc,
            roc_auc: auc,
            eer_accuracy: eer,
        });
        pooled.extend(record.per_video);
    }
    let accuracy_pooled = {
        let n: usize = folds.iter().map(|f| f.videos).sum();
        (n > 0).then(|| folds.iter().map(|f| f.accuracy * f.videos as f64).sum::<f64>() / n as f64)
    };
    let accuracy = aggregate(
        &folds.iter().map(|f| Some(f.accuracy)).collect::<Vec<_>>(),
        accuracy_pooled,
    );
    let (roc, eer) = match binary(&pooled) {
        Some((s, p)) => (
            Some(aggregate(
                &folds.iter().map(|f| f.roc_auc).collect::<Vec<_>>(),
                roc_auc(&s, &p).ok(),
            )),
            Some(aggregate(
                &folds.iter().map(|f| f.eer_accuracy).collect::<Vec<_>>(),
                eer_accuracy(&s, &p).ok().map(|(_, a)| a),
            )),
        ),
        None => (None, None),
    };
    Ok(Summary {
        protocol,
        classes,
        folds_total: total,
        folds_finished: folds.len(),
        folds,
        accuracy,
        roc_auc: roc,
        eer_accuracy: eer,
        note: "k-fold results in the literature (BioVid, the paper's Tables 4 and 5) are the mean over folds; \
               for leave-one-subject-out (UNBC-McMaster, Table 3) a fold holds one subject, often of one class \
               only, so ROC-AUC and EER accuracy are meaningful only on the scores pooled over all folds."
            .to_string(),
    })
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{:.1}", 100.0 * x))
}

impl Summary {
    pub fn write(&self, out: &Path) -> Result<()> {
        let path = out.join("summary.json");
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::data(&path, e.to_string()))?;
        write_atomically(&path, |f| std::io::Write::write_all(f, &json))?;
        let md = self.markdown();
        write_atomically(&out.join("summary.md"), |f| std::io::Write::write_all(f, md.as_bytes()))
    }

    pub fn markdown(&self) -> String {
        let two = self.roc_auc.is_some();
        let mut lines = vec![format!(
            "# {} ({} of {} folds finished{})\n",
            if self.protocol.is_empty() {
                "protocol run"
            } else {
                &self.protocol
            },
            self.folds_finished,
            self.folds_total,
            if two {
                format!("; positive class `{}`", self.classes.get(1).map_or("", String::as_str))
            } else {
                String::new()
            }
        )];
        lines.push(if two {
            "| fold | test videos | accuracy (%) | ROC-AUC (%) | EER accuracy (%) |\n|---|---|---|---|---|".into()
        } else {
            "| fold | test videos | accuracy (%) |\n|---|---|---|".into()
        });
        for f in &self.folds {
            let mut row = format!("| {:02} | {} | {:.1} |", f.fold, f.videos, 100.0 * f.accuracy);
            if two {
                row.push_str(&format!(" {} | {} |", pct(f.roc_auc), pct(f.eer_accuracy)));
            }
            lines.push(row);
        }
        lines.push(String::new());
        lines.push("| metric | mean ± std over folds | folds | pooled over all folds' videos |".into());
        lines.push("|---|---|---|---|".into());
        let mut metric = |name: &str, a: &Aggregate| {
            lines.push(format!(
                "| {name} | {} | {} | {} |",
                match (a.mean, a.std) {
                    (Some(m), Some(s)) => format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * s),
                    _ => "-".into(),
                },
                a.folds_used,
                pct(a.pooled)
            ))
        };
        metric("accuracy (%)", &self.accuracy);
        if let Some(a) = &self.roc_auc {
            metric("ROC-AUC (%)", a);
        }
        if let Some(a) = &self.eer_accuracy {
            metric("EER accuracy (%)", a);
        }
        lines.push(String::new());
        lines.push(self.note.clone());
        lines.join("\n") + "\n"
    }
}

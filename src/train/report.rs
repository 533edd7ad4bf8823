//! `stsm-engine report DIR`: the paper's tables from a directory of runs (a sweep grid, a
//! protocol run, or a grid of protocol runs), also what `sweep` prints. Only finished runs and
//! folds count; a partial directory says how many are missing.
//!
//! A "run" here is one training configuration and seed: a run directory, or a protocol
//! directory whose `fold-NN/` run directories are its folds. Its settings come from its own
//! `config.json`, not from directory names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::config::TrainConfig;
use super::protocol::mean_std;
use super::sweep::{run_result, CellResult};
use crate::error::{Error, Result};
use crate::infer::metrics::{eer_accuracy, roc_auc};
use crate::sampling::SamplerKind;

/// One configuration and seed with its finished folds (one "fold" for a plain run).
#[derive(Clone, Debug)]
pub struct Entry {
    pub dir: PathBuf,
    pub model: String,
    /// uniform, softmax or reinforce.
    pub sampler: String,
    /// Sampling γ (0 for uniform) and pooling γ.
    pub gamma: f64,
    pub pool_gamma: f64,
    pub seed: u64,
    pub protocol: String,
    pub folds_total: usize,
    /// (fold, result) of each finished fold.
    pub folds: Vec<(usize, CellResult)>,
}

impl Entry {
    fn label(&self) -> (String, String, String, String) {
        let g = |x: f64| format!("{x}");
        (
            self.model.clone(),
            self.sampler.clone(),
            if self.sampler == "uniform" {
                "-".into()
            } else {
                g(self.gamma)
            },
            g(self.pool_gamma),
        )
    }
    /// Two-class metric per fold (mean over folds) and on all folds' scores pooled.
    fn binary_metric(&self, metric: fn(&[f64], &[bool]) -> Option<f64>) -> (Option<f64>, Option<f64>) {
        let mut per_fold = Vec::new();
        let mut pooled: Vec<(f64, bool)> = Vec::new();
        for (_, r) in &self.folds {
            let Some(b) = &r.binary else { return (None, None) };
            let (s, p): (Vec<f64>, Vec<bool>) = b.iter().copied().unzip();
            if let Some(m) = metric(&s, &p) {
                per_fold.push(m);
            }
            pooled.extend(b);
        }
        let (s, p): (Vec<f64>, Vec<bool>) = pooled.into_iter().unzip();
        (
            (!per_fold.is_empty()).then(|| mean_std(&per_fold).0),
            if s.is_empty() { None } else { metric(&s, &p) },
        )
    }
}

fn auc(s: &[f64], p: &[bool]) -> Option<f64> {
    roc_auc(s, p).ok()
}

fn eer(s: &[f64], p: &[bool]) -> Option<f64> {
    eer_accuracy(s, p).ok().map(|(_, a)| a)
}

fn read_config(dir: &Path) -> Option<TrainConfig> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn fold_dirs(dir: &Path) -> Vec<(usize, PathBuf)> {
    let mut out: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let f = name.strip_prefix("fold-")?.parse::<usize>().ok()?;
            e.path().is_dir().then(|| (f, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// The number of folds of a protocol directory: its saved split, else the fold folders seen.
fn folds_total(dir: &Path, seen: usize) -> usize {
    crate::data::Split::load(&dir.join("protocol-split.json"))
        .map(|s| s.folds.len())
        .unwrap_or(seen)
}

/// The entry of `dir` if it is a run or protocol directory (None otherwise).
fn entry(dir: &Path) -> Result<Option<Entry>> {
    let folds = fold_dirs(dir);
    let (config, runs): (Option<TrainConfig>, Vec<(usize, PathBuf)>) = if folds.is_empty() {
        (read_config(dir), vec![(0, dir.to_path_buf())])
    } else {
        (folds.iter().find_map(|(_, d)| read_config(d)), folds.clone())
    };
    let Some(c) = config else { return Ok(None) };
    let mut finished = Vec::new();
    for (f, d) in &runs {
        if let Some(r) = run_result(d)? {
            finished.push((*f, r));
        }
    }
    let sampler = match c.sampler {
        SamplerKind::Uniform => "uniform",
        SamplerKind::Softmax { .. } => "softmax",
        SamplerKind::Reinforce { .. } => "reinforce",
    };
    Ok(Some(Entry {
        dir: dir.to_path_buf(),
        model: c.model.clone(),
        sampler: sampler.to_string(),
        gamma: c.sampling_gamma(),
        pool_gamma: c.pooling_gamma(),
        seed: c.seed,
        protocol: c.protocol.clone(),
        folds_total: if folds.is_empty() {
            1
        } else {
            folds_total(dir, folds.len())
        },
        folds: finished,
    }))
}

/// Every run under `root` (itself, or its sub-folders, two levels deep), in path order.
pub fn collect(root: &Path) -> Result<Vec<Entry>> {
    if !root.is_dir() {
        return Err(Error::data(root, "not a directory of runs"));
    }
    if let Some(e) = entry(root)? {
        return Ok(vec![e]);
    }
    let mut entries = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| Error::io(root, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        match entry(&d)? {
            Some(e) => entries.push(e),
            None => entries.extend(collect(&d).unwrap_or_default()),
        }
    }
    Ok(entries)
}

fn pm(v: &[f64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let (m, s) = mean_std(v);
    format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * s)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{:.1}", 100.0 * x))
}

fn mean_of(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = v.flatten().collect();
    (!v.is_empty()).then(|| mean_std(&v).0)
}

/// A group of entries sharing (model, sampler, γ, pooling γ): its cells' numbers.
struct Row<'a> {
    key: (String, String, String, String),
    entries: Vec<&'a Entry>,
}

impl Row<'_> {
    /// Accuracy of each finished (seed, fold) cell.
    fn cell_accs(&self) -> Vec<f64> {
        self.entries
            .iter()
            .flat_map(|e| e.folds.iter().map(|(_, r)| r.test_acc))
            .collect()
    }
    fn finished(&self) -> (usize, usize) {
        (
            self.entries.iter().map(|e| e.folds.len()).sum(),
            self.entries.iter().map(|e| e.folds_total).sum(),
        )
    }
    fn epochs(&self) -> Option<f64> {
        mean_of(
            self.entries
                .iter()
                .flat_map(|e| e.folds.iter().map(|(_, r)| Some(r.best_epoch as f64))),
        )
    }
    fn rate(&self, f: fn(&CellResult) -> Option<f64>) -> Option<f64> {
        mean_of(self.entries.iter().flat_map(|e| e.folds.iter().map(move |(_, r)| f(r))))
    }
    /// Mean over seeds of the per-seed two-class metric (per fold, and pooled over folds).
    fn binary(&self, metric: fn(&[f64], &[bool]) -> Option<f64>) -> (Option<f64>, Option<f64>) {
        let per: Vec<(Option<f64>, Option<f64>)> = self.entries.iter().map(|e| e.binary_metric(metric)).collect();
        (mean_of(per.iter().map(|p| p.0)), mean_of(per.iter().map(|p| p.1)))
    }
    /// (seed, fold) -> accuracy, for paired comparisons.
    fn paired_accs(&self) -> Vec<((u64, usize), f64)> {
        self.entries
            .iter()
            .flat_map(|e| e.folds.iter().map(move |(f, r)| ((e.seed, *f), r.test_acc)))
            .collect()
    }
}

fn rows(entries: &[Entry]) -> Vec<Row<'_>> {
    let mut rows: Vec<Row> = Vec::new();
    for e in entries.iter().filter(|e| !e.folds.is_empty()) {
        let key = e.label();
        match rows.iter_mut().find(|r| r.key == key) {
            Some(r) => r.entries.push(e),
            None => rows.push(Row { key, entries: vec![e] }),
        }
    }
    rows
}

/// A paired comparison of accuracies (in %) on the same cells: (wins of `a`, ties, mean of
/// a - b, its standard error).
pub fn paired(a: &[f64], b: &[f64]) -> (usize, usize, f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (mean, sd) = mean_std(&d);
    let wins = d.iter().filter(|&&x| x > 0.0).count();
    let ties = d.iter().filter(|&&x| x == 0.0).count();
    (wins, ties, mean, sd / (d.len().max(1) as f64).sqrt())
}

/// The markdown report of `entries`: every configuration's row (the sweep's table), the paired
/// gaps against uniform, and the paper's Tables 1, 2 and 3–5 where the runs allow them.
pub fn render(entries: &[Entry]) -> String {
    let mut out = Vec::new();
    let rows = rows(entries);
    let done: usize = entries.iter().map(|e| e.folds.len()).sum();
    let total: usize = entries.iter().map(|e| e.folds_total).sum();
    if done < total {
        let missing: Vec<String> = entries
            .iter()
            .filter(|e| e.folds.len() < e.folds_total)
            .map(|e| e.dir.display().to_string())
            .collect();
        out.push(format!(
            "Partial: {done} of {total} runs/folds finished; only finished ones count. Unfinished: {}.\n",
            missing.join(", ")
        ));
    }
    let two_class = rows.iter().all(|r| r.binary(auc).1.is_some()) && !rows.is_empty();
    let mut head = "| model | sampler | γ | pooling γ | finished | test accuracy (%) | epochs to best val loss | on-segment rate (exploitation) | apex-hit rate (exploitation) |".to_string();
    let mut rule = "|---|---|---|---|---|---|---|---|---|".to_string();
    if two_class {
        head.push_str(" ROC-AUC (%) mean over folds | ROC-AUC (%) pooled | EER accuracy (%) pooled |");
        rule.push_str("---|---|---|");
    }
    out.push(head);
    out.push(rule);
    for r in &rows {
        let (m, s, g, pg) = &r.key;
        let (n, of) = r.finished();
        let rate = |v: Option<f64>| v.map_or_else(|| "-".into(), |x| format!("{x:.2}"));
        let mut line = format!(
            "| {m} | {s} | {g} | {pg} | {n}/{of} | {} | {} | {} | {} |",
            pm(&r.cell_accs()),
            r.epochs().map_or_else(|| "-".into(), |e| format!("{e:.1}")),
            rate(r.rate(|c| c.on_segment)),
            rate(r.rate(|c| c.apex)),
        );
        if two_class {
            let (a_mean, a_pooled) = r.binary(auc);
            line.push_str(&format!(
                " {} | {} | {} |",
                pct(a_mean),
                pct(a_pooled),
                pct(r.binary(eer).1)
            ));
        }
        out.push(line);
    }
    out.push(String::new());
    out.push(
        "Accuracy is mean ± sample std over every finished (seed, fold) run; \"pooled\" metrics are computed on \
         the test scores of all folds of a seed together, then averaged over seeds."
            .into(),
    );
    // Paired gaps against uniform of the same model and pooling kind, on the same (seed, fold).
    let mut lines = Vec::new();
    for r in rows.iter().filter(|r| r.key.1 != "uniform") {
        let Some(base) = rows.iter().find(|b| b.key.1 == "uniform" && b.key.0 == r.key.0) else {
            continue;
        };
        let base_accs = base.paired_accs();
        let pairs: Vec<(f64, f64)> = r
            .paired_accs()
            .into_iter()
            .filter_map(|(k, a)| {
                base_accs
                    .iter()
                    .find(|(bk, _)| *bk == k)
                    .map(|(_, b)| (100.0 * a, 100.0 * b))
            })
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let (a, b): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        let (wins, ties, mean, se) = paired(&a, &b);
        lines.push(format!(
            "| {} {} γ={} (pool γ {}) − uniform (pool γ {}) | {} | {wins} / {ties} / {} | {mean:+.1} ± {se:.1} | {:.1} |",
            r.key.0,
            r.key.1,
            r.key.2,
            r.key.3,
            base.key.3,
            a.len(),
            a.len() - wins - ties,
            if se > 0.0 { mean / se } else { f64::NAN },
        ));
    }
    if !lines.is_empty() {
        out.push(String::new());
        out.push(
            "| paired by (seed, fold) | pairs | wins / ties / losses | mean gap (points) ± s.e. | gap / s.e. |".into(),
        );
        out.push("|---|---|---|---|---|".into());
        out.extend(lines);
    }
    out.extend(table1(&rows));
    out.extend(table2(&rows));
    out.extend(tables3_5(&rows, two_class));
    out.join("\n") + "\n"
}

fn acc_cell(r: Option<&Row>) -> (String, String) {
    match r {
        Some(r) => (
            pm(&r.cell_accs()),
            r.epochs().map_or_else(|| "-".into(), |e| format!("{e:.1}")),
        ),
        None => ("-".into(), "-".into()),
    }
}

/// Table 1: γ × {REINFORCE, softmax}, accuracy and epochs to best; γ = 0 is uniform in both.
fn table1(rows: &[Row]) -> Vec<String> {
    if !rows.iter().any(|r| r.key.1 == "reinforce" || r.key.1 == "softmax") {
        return Vec::new();
    }
    let mut out = vec![
        String::new(),
        "## Table 1 layout: γ × {REINFORCE, softmax}".into(),
        String::new(),
        "| model | γ | REINFORCE acc. (%) | Ep. | softmax acc. (%) | Ep. |".into(),
        "|---|---|---|---|---|---|".into(),
    ];
    let models: BTreeSet<&str> = rows.iter().map(|r| r.key.0.as_str()).collect();
    for m in models {
        let mut gammas: Vec<f64> = rows
            .iter()
            .filter(|r| r.key.0 == m && r.key.1 != "uniform")
            .filter_map(|r| r.key.2.parse().ok())
            .collect();
        gammas.sort_by(f64::total_cmp);
        gammas.dedup();
        // The default pooling of each sampler (pooling γ = sampling γ).
        let find = |s: &str, g: f64| {
            rows.iter().find(|r| {
                r.key.0 == m
                    && r.key.1 == s
                    && r.key.2.parse::<f64>().ok() == Some(g)
                    && r.key.3.parse::<f64>().ok() == Some(g)
            })
        };
        if let Some(u) = rows.iter().find(|r| r.key.0 == m && r.key.1 == "uniform") {
            let (a, e) = acc_cell(Some(u));
            out.push(format!("| {m} | 0 (uniform) | {a} | {e} | {a} | {e} |"));
        }
        for g in gammas.iter().filter(|&&g| g != 0.0) {
            let (ra, re) = acc_cell(find("reinforce", *g));
            let (sa, se) = acc_cell(find("softmax", *g));
            out.push(format!("| {m} | {g} | {ra} | {re} | {sa} | {se} |"));
        }
    }
    out
}

/// Table 2: model × sampler (uniform baseline against each softmax γ).
fn table2(rows: &[Row]) -> Vec<String> {
    let models: BTreeSet<&str> = rows.iter().map(|r| r.key.0.as_str()).collect();
    let mut columns: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.key.1.clone(), r.key.2.clone(), r.key.3.clone()))
        .collect();
    columns.sort();
    columns.dedup();
    if models.len() < 2 {
        return Vec::new();
    }
    let mut out = vec![
        String::new(),
        "## Table 2 layout: model × sampler (test accuracy, %)".into(),
        String::new(),
        format!(
            "| model | {} |",
            columns
                .iter()
                .map(|(s, g, pg)| if s == "uniform" {
                    format!("uniform (pool γ {pg})")
                } else {
                    format!("{s} γ={g} (pool γ {pg})")
                })
                .collect::<Vec<_>>()
                .join(" | ")
        ),
        format!("|---|{}", "---|".repeat(columns.len())),
    ];
    for m in models {
        let cells: Vec<String> = columns
            .iter()
            .map(|(s, g, pg)| {
                acc_cell(
                    rows.iter()
                        .find(|r| r.key.0 == m && &r.key.1 == s && &r.key.2 == g && &r.key.3 == pg),
                )
                .0
            })
            .collect();
        out.push(format!("| {m} | {} |", cells.join(" | ")));
    }
    out
}

/// Tables 3–5: the uniform baseline against softmax γ with each task's metric (accuracy: Table 4;
/// ROC-AUC: Table 5; EER accuracy: Table 3). Two-class runs only.
fn tables3_5(rows: &[Row], two_class: bool) -> Vec<String> {
    if !two_class || !rows.iter().any(|r| r.key.1 == "uniform") {
        return Vec::new();
    }
    let mut out = vec![
        String::new(),
        "## Tables 3–5 layout: baseline against softmax γ".into(),
        String::new(),
        "| method | model | accuracy (%) (Table 4) | ROC-AUC (%) (Table 5: mean over folds / pooled) | EER accuracy (%) (Table 3: pooled / mean over folds) |".into(),
        "|---|---|---|---|---|".into(),
    ];
    for r in rows.iter().filter(|r| r.key.1 == "uniform" || r.key.1 == "softmax") {
        let method = if r.key.1 == "uniform" {
            "baseline (uniform)".to_string()
        } else {
            format!("softmax (γ = {}, pooling γ {})", r.key.2, r.key.3)
        };
        let (a_mean, a_pooled) = r.binary(auc);
        let (e_mean, e_pooled) = r.binary(eer);
        out.push(format!(
            "| {method} | {} | {} | {} / {} | {} / {} |",
            r.key.0,
            pm(&r.cell_accs()),
            pct(a_mean),
            pct(a_pooled),
            pct(e_pooled),
            pct(e_mean)
        ));
    }
    out.push(String::new());
    out.push(
        "BioVid's k-fold results (Tables 4, 5) are usually the mean over folds; for leave-one-subject-out \
         (UNBC-McMaster, Table 3) only the pooled EER accuracy is meaningful, as one-subject folds often hold one class."
            .into(),
    );
    out
}

/// Renders the report of `root` and writes it to `root/report.md`.
pub fn write(root: &Path) -> Result<String> {
    let entries = collect(root)?;
    if entries.is_empty() {
        return Err(Error::data(
            root,
            "holds no run (a folder with config.json) or protocol run (fold-NN/ folders)",
        ));
    }
    let md = render(&entries);
    crate::fsutil::write_atomically(&root.join("report.md"), |f| std::io::Write::write_all(f, md.as_bytes()))?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! The per-epoch record of a run, one JSON object per line in `metrics.jsonl`.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub phase: String,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    pub lr_head: f64,
    pub lr_backbone: f64,
    pub clips_per_s: f64,
    pub seconds: f64,
    /// Fraction of this epoch's training clips that overlap their video's informative segment
    /// (synthetic benchmark only).
    pub on_segment_rate: Option<f64>,
    /// Fraction of this epoch's training clips that contain their video's apex frame (synthetic
    /// benchmark only).
    #[serde(default)]
    pub apex_rate: Option<f64>,
    /// Clip starts drawn this epoch: (video index in the train source, start).
    pub starts: Vec<(usize, usize)>,
}

/// Appends one line and syncs it, so a crash never loses a finished epoch's record.
pub fn append(path: &Path, m: &EpochMetrics) -> Result<()> {
    let line = serde_json::to_string(m).map_err(|e| Error::data(path, e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    writeln!(f, "{line}")
        .and_then(|_| f.sync_data())
        .map_err(|e| Error::io(path, e))
}

/// Reads every record; a missing file is an empty history.
pub fn read(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| Error::data(path, format!("line {}: {e}", i + 1))))
        .collect()
}

/// Keeps only epochs ≤ `last` (a resumed run redoes what came after its checkpoint).
pub fn truncate(path: &Path, last: usize) -> Result<()> {
    let kept: Vec<String> = read(path)?
        .into_iter()
        .filter(|m| m.epoch <= last)
        .map(|m| serde_json::to_string(&m).map_err(|e| Error::data(path, e.to_string())))
        .collect::<Result<_>>()?;
    crate::fsutil::write_atomically(path, |f| kept.iter().try_for_each(|l| writeln!(f, "{l}")))
}

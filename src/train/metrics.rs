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
    /// None when the run has no validation hold-out (val_fraction 0).
    #[serde(default)]
    pub val_loss: Option<f64>,
    #[serde(default)]
    pub val_acc: Option<f64>,
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
/// A non-finite number is refused (JSON would turn it into a `null` no reader accepts).
pub fn append(path: &Path, m: &EpochMetrics) -> Result<()> {
    let numbers = [
        ("train_loss", m.train_loss),
        ("train_acc", m.train_acc),
        ("val_loss", m.val_loss.unwrap_or(0.0)),
        ("val_acc", m.val_acc.unwrap_or(0.0)),
        ("lr_head", m.lr_head),
        ("lr_backbone", m.lr_backbone),
        ("clips_per_s", m.clips_per_s),
        ("seconds", m.seconds),
    ];
    if let Some((name, v)) = numbers.iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::data(
            path,
            format!("epoch {}: {name} is {v}; a non-finite value is not recorded", m.epoch),
        ));
    }
    crate::fsutil::commit_point(path)?;
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

/// Keeps only epochs ≤ `last` (a resumed run redoes what came after its checkpoint). Lines past
/// `last` are dropped unread beyond their epoch number, so a record the resumed epoch will
/// rewrite (or a line torn by a crash) does not stop the resume.
pub fn truncate(path: &Path, last: usize) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut kept = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let epoch = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v["epoch"].as_u64());
        match epoch {
            Some(e) if e as usize <= last => {
                // Epochs that stay must read back whole.
                serde_json::from_str::<EpochMetrics>(line)
                    .map_err(|e| Error::data(path, format!("line {}: {e}", i + 1)))?;
                kept.push(*line);
            }
            Some(_) => {}
            // Only the last line can be torn by a crash mid-append.
            None if i + 1 == lines.len() => {}
            None => return Err(Error::data(path, format!("line {}: not an epoch record", i + 1))),
        }
    }
    crate::fsutil::write_atomically(path, |f| kept.iter().try_for_each(|l| writeln!(f, "{l}")))
}

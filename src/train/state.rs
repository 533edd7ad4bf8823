//! What a run needs to continue exactly where it stopped: parameters, momentum buffers, sampler
//! tables, RNG, schedule and learning rates, written at every epoch end. Everything goes into one
//! file, `last.safetensors`: the tensors, and the rest as JSON in its metadata. The file is
//! written atomically, so the run's state commits with one rename: a kill at any instant leaves
//! either the previous epoch's state or the new one, never a mix.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::schedule::Schedule;
use crate::autograd::Param;
use crate::error::{Error, Result};
use crate::nn::checkpoint;
use crate::optim::Sgd;
use crate::sampling::Sampler;
use crate::tensor::Tensor;

const MOMENTUM_PREFIX: &str = "momentum/";
const EPOCH_KEY: &str = "epochs_done";
/// The metadata key of the JSON `ResumeState`.
const STATE_KEY: &str = "resume_state";
/// The resume state's file in the run directory.
pub const FILE: &str = "last.safetensors";
/// Where runs written before the state moved into `last.safetensors` kept its JSON part.
const LEGACY_JSON: &str = "last.json";

#[derive(Clone, Serialize, Deserialize)]
pub struct ResumeState {
    pub epochs_done: usize,
    pub sampler: Sampler,
    pub rng: ChaCha8Rng,
    pub schedule: Schedule,
    /// Learning rates of the (head, backbone) groups.
    pub lrs: [f64; 2],
    pub best_epoch: Option<usize>,
    /// The run ended (early stop or the last epoch): resuming has nothing to do.
    pub finished: bool,
    /// CPU compute threads the run used (results are bit-for-bit reproducible for a given count);
    /// None in states written before this was recorded.
    #[serde(default)]
    pub threads: Option<usize>,
}

/// True when `dir` holds a resumable state.
pub fn exists(dir: &Path) -> bool {
    dir.join(FILE).exists()
}

pub fn save(dir: &Path, params: &[Param], sgd: &Sgd, state: &ResumeState) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = params.iter().map(|p| (p.name().to_string(), p.value())).collect();
    tensors.extend(
        sgd.momentum_buffers()
            .into_iter()
            .map(|(n, t)| (format!("{MOMENTUM_PREFIX}{n}"), t)),
    );
    let json = serde_json::to_string(state).map_err(|e| Error::data(dir.join(FILE), e.to_string()))?;
    let mut meta_notes = BTreeMap::new();
    meta_notes.insert(EPOCH_KEY.to_string(), state.epochs_done.to_string());
    meta_notes.insert(STATE_KEY.to_string(), json);
    checkpoint::save_with_notes(&dir.join(FILE), &tensors, meta_notes)?;
    // A state of the old two-file layout would only confuse a reader now.
    let _ = std::fs::remove_file(dir.join(LEGACY_JSON));
    Ok(())
}

/// The saved state without its tensors (what `load` returns, for checks before a resume).
pub fn read(dir: &Path) -> Result<ResumeState> {
    state_of(dir, &checkpoint::load(&dir.join(FILE))?.notes)
}

fn state_of(dir: &Path, notes: &BTreeMap<String, String>) -> Result<ResumeState> {
    match notes.get(STATE_KEY) {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| Error::data(dir.join(FILE), format!("unreadable resume state: {e}")))
        }
        None => legacy_state(dir, notes),
    }
}

/// Restores parameters and momentum into `params` / `sgd` and returns the rest.
pub fn load(dir: &Path, params: &[Param], sgd: &mut Sgd) -> Result<ResumeState> {
    let tensor_path = dir.join(FILE);
    let ckpt = checkpoint::load(&tensor_path)?;
    let state = state_of(dir, &ckpt.notes)?;
    let (momentum, weights): (HashMap<String, Tensor>, HashMap<String, Tensor>) = ckpt
        .tensors
        .into_iter()
        .partition(|(n, _)| n.starts_with(MOMENTUM_PREFIX));
    let weights = checkpoint::Checkpoint {
        meta: None,
        notes: BTreeMap::new(),
        tensors: weights.into_iter().collect(),
    };
    weights.load_into(params, &[], &tensor_path)?;
    let momentum: BTreeMap<String, Tensor> = momentum
        .into_iter()
        .map(|(n, t)| (n[MOMENTUM_PREFIX.len()..].to_string(), t))
        .collect();
    sgd.load_momentum_buffers(&momentum)?;
    Ok(state)
}

/// The JSON half of a state written by the old two-file layout, if it matches the tensors.
fn legacy_state(dir: &Path, notes: &BTreeMap<String, String>) -> Result<ResumeState> {
    let json_path = dir.join(LEGACY_JSON);
    let bytes = std::fs::read(&json_path).map_err(|e| Error::io(&json_path, e))?;
    let state: ResumeState =
        serde_json::from_slice(&bytes).map_err(|e| Error::data(&json_path, format!("unreadable resume state: {e}")))?;
    let saved_epoch = notes.get(EPOCH_KEY).cloned().unwrap_or_default();
    if saved_epoch != state.epochs_done.to_string() {
        return Err(Error::data(
            dir.join(FILE),
            format!(
                "holds epoch {saved_epoch} but {LEGACY_JSON} says {}; the run was interrupted while saving",
                state.epochs_done
            ),
        ));
    }
    Ok(state)
}

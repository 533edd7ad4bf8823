//! What a run needs to continue exactly where it stopped: parameters, momentum buffers, sampler
//! tables, RNG, schedule and learning rates, written at every epoch end. Tensors go to
//! `last.safetensors` and the rest to `last.json`; each is written atomically, the JSON last, and
//! both record the epoch so a crash between the two writes is detected rather than mixed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::schedule::Schedule;
use crate::autograd::Param;
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use crate::nn::checkpoint;
use crate::optim::Sgd;
use crate::sampling::Sampler;
use crate::tensor::Tensor;

const MOMENTUM_PREFIX: &str = "momentum/";
const EPOCH_KEY: &str = "epochs_done";

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
}

pub fn save(dir: &Path, params: &[Param], sgd: &Sgd, state: &ResumeState) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = params.iter().map(|p| (p.name().to_string(), p.value())).collect();
    tensors.extend(
        sgd.momentum_buffers()
            .into_iter()
            .map(|(n, t)| (format!("{MOMENTUM_PREFIX}{n}"), t)),
    );
    let mut meta_notes = BTreeMap::new();
    meta_notes.insert(EPOCH_KEY.to_string(), state.epochs_done.to_string());
    let tensor_path = dir.join("last.safetensors");
    checkpoint::save_with_notes(&tensor_path, &tensors, meta_notes)?;
    let json = serde_json::to_vec(state).map_err(|e| Error::data(dir.join("last.json"), e.to_string()))?;
    write_atomically(&dir.join("last.json"), |f| std::io::Write::write_all(f, &json))
}

/// Restores parameters and momentum into `params` / `sgd` and returns the rest.
pub fn load(dir: &Path, params: &[Param], sgd: &mut Sgd) -> Result<ResumeState> {
    let json_path = dir.join("last.json");
    let bytes = std::fs::read(&json_path).map_err(|e| Error::io(&json_path, e))?;
    let state: ResumeState =
        serde_json::from_slice(&bytes).map_err(|e| Error::data(&json_path, format!("unreadable resume state: {e}")))?;
    let tensor_path = dir.join("last.safetensors");
    let ckpt = checkpoint::load(&tensor_path)?;
    let saved_epoch = ckpt.notes.get(EPOCH_KEY).cloned().unwrap_or_default();
    if saved_epoch != state.epochs_done.to_string() {
        return Err(Error::data(
            &tensor_path,
            format!(
                "holds epoch {saved_epoch} but last.json says {}; the run was interrupted while saving",
                state.epochs_done
            ),
        ));
    }
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

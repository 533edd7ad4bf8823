//! Checkpoints as safetensors files with PyTorch layouts ((O, I, T, H, W) conv weights,
//! (out, in) linear weights) and PyTorch names, so converted PyTorch weights load directly.
//! The metadata holds everything needed to use the checkpoint without the training command line.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::ModelConfig;
use crate::autograd::Param;
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use crate::tensor::{DType, Tensor};

/// The safetensors metadata key under which `CheckpointMeta` is stored as JSON.
const META_KEY: &str = "stsm-engine";

/// How frames are turned into network input (matched at inference to what training used).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Frames are first resized to (H, W)...
    pub resize: [usize; 2],
    /// ...then centre-cropped (random crop in training) to (H, W).
    pub crop: [usize; 2],
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub model: ModelConfig,
    /// Class names in label order.
    pub classes: Vec<String>,
    pub preprocessing: Option<Preprocessing>,
    /// The γ clips were sampled with in training, and the γ test-time pooling uses.
    pub sampling_gamma: Option<f64>,
    pub pooling_gamma: Option<f64>,
    /// Free-form provenance (e.g. "inflated from X").
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
}

/// A loaded checkpoint: tensors by name (f32, or f64 where stored so) and the metadata if it was written by us.
pub struct Checkpoint {
    pub meta: Option<CheckpointMeta>,
    /// Other string metadata of the file (e.g. a resume state's epoch).
    pub notes: BTreeMap<String, String>,
    pub tensors: BTreeMap<String, Tensor>,
}

/// The tensor's elements as little-endian bytes, in its own float type.
fn encode(name: &str, t: &Tensor) -> Result<(safetensors::Dtype, Vec<u8>)> {
    match t.dtype() {
        DType::F32 => Ok((
            safetensors::Dtype::F32,
            bytemuck::cast_slice(&t.to_vec::<f32>()?).to_vec(),
        )),
        DType::F64 => Ok((
            safetensors::Dtype::F64,
            bytemuck::cast_slice(&t.to_vec::<f64>()?).to_vec(),
        )),
        other => Err(Error::type_mismatch(
            "checkpoint",
            format!("{name}: cannot store a {other:?} tensor"),
        )),
    }
}

/// Writes `tensors` (name, value) and `meta` to `path` atomically, each in its float type.
pub fn save(path: &Path, tensors: &[(String, Tensor)], meta: Option<&CheckpointMeta>) -> Result<()> {
    let mut metadata = HashMap::new();
    if let Some(m) = meta {
        let json = serde_json::to_string(m)
            .map_err(|e| Error::argument("checkpoint", format!("cannot encode metadata: {e}")))?;
        metadata.insert(META_KEY.to_string(), json);
    }
    save_raw(path, tensors, metadata)
}

/// Writes `tensors` with free-form string metadata `notes` (no model metadata), atomically.
pub fn save_with_notes(path: &Path, tensors: &[(String, Tensor)], notes: BTreeMap<String, String>) -> Result<()> {
    save_raw(path, tensors, notes.into_iter().collect())
}

fn save_raw(path: &Path, tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> Result<()> {
    let mut bytes = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let (dtype, data) = encode(name, t)?;
        bytes.push((name.clone(), dtype, t.dims().to_vec(), data));
    }
    let mut views = Vec::with_capacity(tensors.len());
    for (name, dtype, dims, data) in &bytes {
        let view = safetensors::tensor::TensorView::new(*dtype, dims.clone(), data)
            .map_err(|e| Error::argument("checkpoint", format!("{name}: {e}")))?;
        views.push((name.clone(), view));
    }
    let metadata = (!metadata.is_empty()).then_some(metadata);
    let encoded = safetensors::serialize(views, metadata)
        .map_err(|e| Error::argument("checkpoint", format!("{}: {e}", path.display())))?;
    write_atomically(path, |f| std::io::Write::write_all(f, &encoded))
}

/// Saves the current values of `params` under their names.
pub fn save_params(path: &Path, params: &[Param], meta: Option<&CheckpointMeta>) -> Result<()> {
    let tensors: Vec<(String, Tensor)> = params.iter().map(|p| (p.name().to_string(), p.value())).collect();
    save(path, &tensors, meta)
}

/// Reads a tensor as f32 (f64 stays f64; f16 and bf16 are widened to f32).
fn decode(name: &str, view: &safetensors::tensor::TensorView<'_>, path: &Path) -> Result<Tensor> {
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        safetensors::Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        safetensors::Dtype::F64 => {
            let wide = data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("chunk of 8")))
                .collect();
            return Tensor::from_vec(view.shape(), wide);
        }
        safetensors::Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        safetensors::Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => {
            return Err(Error::type_mismatch(
                "checkpoint",
                format!(
                    "{}: tensor {name} has dtype {other:?}; expected F32, F64, F16 or BF16",
                    path.display()
                ),
            ))
        }
    };
    Tensor::from_vec(view.shape(), values)
}

/// Largest clip (T × H × W) a checkpoint's metadata may describe: far above any preset
/// (VGG-3D: 16 × 224 × 224 ≈ 2^20), low enough that the model's shape arithmetic cannot overflow.
const MAX_CLIP_ELEMENTS: usize = 1 << 30;

impl CheckpointMeta {
    /// Checks the metadata against the tensors the file really holds, before a model is built
    /// from it: as many class names as outputs, a sane clip size, and every parameter the model
    /// config implies present with that shape. The sizes used to allocate the model then all
    /// come from data the file contains.
    pub fn check_against(&self, tensors: &BTreeMap<String, Tensor>, path: &Path) -> Result<()> {
        let bad = |msg: String| Err(Error::data(path, format!("metadata does not match the file: {msg}")));
        let m = &self.model;
        m.validate()?;
        if self.classes.len() != m.classes {
            return bad(format!(
                "{} class names for a model with {} outputs",
                self.classes.len(),
                m.classes
            ));
        }
        let clip = m.input.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if m.input.contains(&0) || clip.is_none_or(|n| n > MAX_CLIP_ELEMENTS) || m.in_channels == 0 {
            return bad(format!("input clip {:?} is empty or too large", m.input));
        }
        let shape_of = |name: &str| tensors.get(name).map(|t| t.dims().to_vec());
        let expect = |name: String, dims: Vec<usize>| -> Result<()> {
            match shape_of(&name) {
                Some(d) if d == dims => Ok(()),
                Some(d) => bad(format!("{name} has shape {d:?}, the metadata implies {dims:?}")),
                None => bad(format!("{name} is missing")),
            }
        };
        let mut ins = m.in_channels;
        let channels = m.blocks.iter().flat_map(|b| b.channels.iter().copied());
        for (name, outs) in m.conv_names().into_iter().zip(channels) {
            let k = m.conv_kernel;
            expect(format!("{name}.weight"), vec![outs, ins, k[0], k[1], k[2]])?;
            expect(format!("{name}.bias"), vec![outs])?;
            ins = outs;
        }
        // Every conv size now comes from the file, so the shape walk stays in range.
        let flat = super::model::describe(m)?
            .iter()
            .find(|s| s.kind == "flatten")
            .and_then(|s| s.output.last().copied())
            .unwrap_or(0);
        let widths = match m.head_hidden {
            None => vec![flat, m.fc_width, m.fc_width, m.classes],
            Some(h) => vec![flat, m.fc_width, m.fc_width, h, m.classes],
        };
        for (name, w) in m.fc_names().into_iter().zip(widths.windows(2)) {
            expect(format!("{name}.weight"), vec![w[1], w[0]])?;
            expect(format!("{name}.bias"), vec![w[1]])?;
        }
        Ok(())
    }
}

/// Reads a checkpoint. Only a regular file is read (a device or a pipe never ends); metadata
/// written by stsm-engine is checked against the tensors (`CheckpointMeta::check_against`).
pub fn load(path: &Path) -> Result<Checkpoint> {
    crate::fsutil::ensure_regular_file(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
        Error::argument(
            "checkpoint",
            format!("{} is not a safetensors file: {e}", path.display()),
        )
    })?;
    let notes: BTreeMap<String, String> = header
        .metadata()
        .as_ref()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != META_KEY)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let meta: Option<CheckpointMeta> = match header.metadata().as_ref().and_then(|m| m.get(META_KEY)) {
        Some(json) => Some(serde_json::from_str(json).map_err(|e| {
            Error::argument(
                "checkpoint",
                format!("{}: unreadable stsm-engine metadata: {e}", path.display()),
            )
        })?),
        None => None,
    };
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::argument("checkpoint", format!("{}: {e}", path.display())))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        let t = decode(&name, &view, path)?;
        tensors.insert(name, t);
    }
    if let Some(m) = &meta {
        CheckpointMeta::check_against(m, &tensors, path)?;
    }
    Ok(Checkpoint { meta, notes, tensors })
}

/// True when `name` is `prefix` itself or a tensor under it (`fc8` covers `fc8.weight`).
fn covered_by(name: &str, prefixes: &[String]) -> bool {
    prefixes
        .iter()
        .any(|p| name == p || name.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('.')))
}

impl Checkpoint {
    /// Copies the checkpoint into `params`, converting to each param's dtype and placing it on
    /// the param's device (a model moved to a GPU stays there). Every param must
    /// be present with its shape except those under `reinit` (e.g. `fc8`), which keep their
    /// fresh initialisation; every checkpoint tensor must belong to the model unless under
    /// `reinit`. All mismatches are reported by name in one error, and nothing is copied then.
    pub fn load_into(&self, params: &[Param], reinit: &[String], source: &Path) -> Result<()> {
        let mut problems = Vec::new();
        for p in reinit {
            if !params.iter().any(|q| covered_by(q.name(), std::slice::from_ref(p))) {
                problems.push(format!("--reinit {p} names no parameter of the model"));
            }
        }
        let mut updates = Vec::new();
        for p in params {
            if covered_by(p.name(), reinit) {
                continue;
            }
            match self.tensors.get(p.name()) {
                None => problems.push(format!("{}: missing from the checkpoint", p.name())),
                Some(t) if t.dims() != p.value().dims() => problems.push(format!(
                    "{}: checkpoint has shape {}, model expects {}",
                    p.name(),
                    t.shape(),
                    p.value().shape()
                )),
                Some(t) => {
                    let value = p.value();
                    updates.push((p, t.to_dtype(value.dtype())?.to_device(value.device())?))
                }
            }
        }
        for name in self.tensors.keys() {
            if !params.iter().any(|p| p.name() == name) && !covered_by(name, reinit) {
                problems.push(format!("{name}: in the checkpoint but not in the model"));
            }
        }
        if !problems.is_empty() {
            return Err(Error::shape(
                "checkpoint",
                format!(
                    "{} does not match the model:\n  {}",
                    source.display(),
                    problems.join("\n  ")
                ),
            ));
        }
        for (p, t) in updates {
            p.set_value(t)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::layers::{LayerInit, Module};
    use crate::nn::{Init, Model};
    use rand::SeedableRng;

    fn tiny(classes: usize, seed: u64) -> Model {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut li = LayerInit {
            init: Init::HeNormal,
            dtype: DType::F32,
            rng: &mut rng,
        };
        Model::new(ModelConfig::preset("tiny-c3d", classes).unwrap(), &mut li).unwrap()
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("stsm-ckpt-{}-{name}", std::process::id()))
    }

    #[test]
    fn save_load_round_trip_with_metadata() {
        let model = tiny(7, 1);
        let meta = CheckpointMeta {
            model: model.config().clone(),
            classes: (0..7).map(|i| format!("c{i}")).collect(),
            preprocessing: None,
            sampling_gamma: Some(1.0),
            pooling_gamma: Some(1.0),
            notes: BTreeMap::new(),
        };
        let path = temp_path("round.safetensors");
        save_params(&path, &model.parameters(), Some(&meta)).unwrap();
        let ckpt = load(&path).unwrap();
        assert_eq!(ckpt.meta.as_ref(), Some(&meta));
        let other = tiny(7, 2);
        ckpt.load_into(&other.parameters(), &[], &path).unwrap();
        for (a, b) in model.parameters().iter().zip(other.parameters()) {
            assert_eq!(
                a.value().to_vec::<f32>().unwrap(),
                b.value().to_vec::<f32>().unwrap(),
                "{}",
                a.name()
            );
        }
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn mismatches_are_all_reported_by_name_and_nothing_is_copied() {
        let path = temp_path("mismatch.safetensors");
        save_params(&path, &tiny(487, 1).parameters(), None).unwrap();
        let target = tiny(7, 2);
        let before = target.parameters()[0].value().to_vec::<f32>().unwrap();
        let err = load(&path)
            .unwrap()
            .load_into(&target.parameters(), &[], &path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fc8.weight: checkpoint has shape (487, 256), model expects (7, 256)"),
            "{err}"
        );
        assert!(err.contains("fc8.bias: checkpoint has shape (487)"), "{err}");
        assert_eq!(target.parameters()[0].value().to_vec::<f32>().unwrap(), before);
        // Re-initialising fc8 loads everything else and keeps fc8 fresh.
        let fresh_fc8 = target.parameters().last().unwrap().value().to_vec::<f32>().unwrap();
        load(&path)
            .unwrap()
            .load_into(&target.parameters(), &["fc8".into()], &path)
            .unwrap();
        assert_ne!(target.parameters()[0].value().to_vec::<f32>().unwrap(), before);
        assert_eq!(
            target.parameters().last().unwrap().value().to_vec::<f32>().unwrap(),
            fresh_fc8
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn missing_and_unexpected_tensors_are_named() {
        let path = temp_path("partial.safetensors");
        let model = tiny(7, 3);
        let mut tensors: Vec<(String, Tensor)> = model
            .parameters()
            .iter()
            .skip(1)
            .map(|p| (p.name().to_string(), p.value()))
            .collect();
        tensors.push(("extra.weight".into(), Tensor::from_vec(&[1], vec![0f32]).unwrap()));
        save(&path, &tensors, None).unwrap();
        let err = load(&path)
            .unwrap()
            .load_into(&model.parameters(), &["nonesuch".into()], &path)
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("conv1.weight: missing from the checkpoint"), "{msg}");
        assert!(
            msg.contains("extra.weight: in the checkpoint but not in the model"),
            "{msg}"
        );
        assert!(msg.contains("--reinit nonesuch names no parameter"), "{msg}");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_non_safetensors_file_is_a_clear_error() {
        let path = temp_path("garbage.safetensors");
        std::fs::write(&path, b"not a checkpoint").unwrap();
        let err = load(&path).err().unwrap().to_string();
        assert!(err.contains("is not a safetensors file"), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}

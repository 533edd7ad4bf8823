//! One clip through a full-size model with closed-form weights, recorded the way
//! `scripts/torch-parity.py` records PyTorch: logits, loss, and per-tensor gradient norms plus
//! sampled entries. The CI test compares this with the committed PyTorch references.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::closed_form;
use super::layers::Module;
use super::{Model, ModelConfig};
use crate::autograd::Tape;
use crate::error::{Error, Result};
use crate::tensor::DType;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GradSummary {
    pub shape: Vec<usize>,
    pub norm: f64,
    /// (flat index, value) at `closed_form::sample_indices`.
    pub samples: Vec<(usize, f64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParityReport {
    pub model: String,
    pub input: Vec<usize>,
    pub labels: Vec<usize>,
    pub logits: Vec<f64>,
    pub loss: f64,
    pub grads: BTreeMap<String, GradSummary>,
}

/// The parity clip of each model: C3D's 16×112×112, VGG-3D at full width on 2 frames.
pub fn parity_input(preset: &str) -> Result<Vec<usize>> {
    match preset {
        "c3d" => Ok(vec![1, 3, 16, 112, 112]),
        "vgg3d" => Ok(vec![1, 3, 2, 224, 224]),
        other => Err(Error::argument(
            "parity",
            format!("no PyTorch reference for {other:?}; use c3d or vgg3d"),
        )),
    }
}

/// Runs the parity clip through `preset` (7 classes, eval mode) in f64 and records the report.
/// f64 on both sides: in f32, gradient sums with cancellation differ by up to ~1e-3 relative
/// between any two correct implementations (PyTorch f32 vs f64 included), which would hide real
/// differences of that size.
pub fn run(preset: &str) -> Result<ParityReport> {
    let input = parity_input(preset)?;
    let labels = vec![3];
    let model = Model::seeded(ModelConfig::preset(preset, 7)?, DType::F64, 0)?;
    closed_form::fill(&model)?;
    let tape = Tape::new();
    let x = closed_form::input(&input)?.to_dtype(DType::F64)?;
    let logits = model.clip_logits(&tape.constant(x), false, 0)?;
    let loss = logits.cross_entropy(&labels)?;
    loss.backward()?;
    let mut grads = BTreeMap::new();
    for p in model.parameters() {
        let g = p
            .grad()
            .ok_or_else(|| Error::Autograd(format!("{} received no gradient", p.name())))?
            .to_f64_vec()?;
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        let samples = closed_form::sample_indices(g.len())
            .into_iter()
            .map(|i| (i, g[i]))
            .collect();
        grads.insert(
            p.name().to_string(),
            GradSummary {
                shape: p.value().dims().to_vec(),
                norm,
                samples,
            },
        );
    }
    Ok(ParityReport {
        model: preset.into(),
        input,
        labels,
        logits: logits.value().to_f64_vec()?,
        loss: loss.value().item()?,
        grads,
    })
}

/// Largest relative differences of `ours` from `reference`: logits (relative to the largest
/// reference logit), gradient norms (each relative to itself) and sampled gradient entries
/// (relative to the tensor's largest sampled magnitude). Fails if the tensors differ in name or shape.
pub fn compare(ours: &ParityReport, reference: &ParityReport) -> Result<[f64; 3]> {
    let mismatch = |msg: String| Err(Error::shape("parity", msg));
    if ours.logits.len() != reference.logits.len() {
        return mismatch(format!("{} vs {} logits", ours.logits.len(), reference.logits.len()));
    }
    let scale = reference.logits.iter().fold(0f64, |m, v| m.max(v.abs()));
    let logits = ours
        .logits
        .iter()
        .zip(&reference.logits)
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(0f64, f64::max);
    let (mut norms, mut samples) = (0f64, 0f64);
    for (name, r) in &reference.grads {
        let Some(o) = ours.grads.get(name) else {
            return mismatch(format!("{name}: missing from the engine's model"));
        };
        if o.shape != r.shape {
            return mismatch(format!("{name}: engine shape {:?}, PyTorch {:?}", o.shape, r.shape));
        }
        norms = norms.max((o.norm - r.norm).abs() / r.norm.max(1e-30));
        let s = r.samples.iter().fold(1e-30f64, |m, (_, v)| m.max(v.abs()));
        for ((_, a), (_, b)) in o.samples.iter().zip(&r.samples) {
            samples = samples.max((a - b).abs() / s);
        }
    }
    if ours.grads.len() != reference.grads.len() {
        return mismatch(format!(
            "engine has {} parameter tensors, PyTorch {}",
            ours.grads.len(),
            reference.grads.len()
        ));
    }
    Ok([logits, norms, samples])
}

//! SGD with momentum, PyTorch semantics: d = g + wd·p; buf = d on the first step, then
//! buf = μ·buf + (1 − dampening)·d; d = buf (or d + μ·buf with Nesterov); p ← p − lr·d.
//! Parameter groups carry their own lr and weight decay. Gradients accumulated over k
//! micro-batches are averaged (divided by k) before the update.

use crate::autograd::Param;
use crate::backend;
pub use crate::backend::optim::{SgdStep, SgdTensors};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

#[derive(Clone, Debug)]
pub struct ParamGroup {
    pub name: String,
    pub params: Vec<Param>,
    pub lr: f64,
    pub weight_decay: f64,
}

pub struct Sgd {
    groups: Vec<ParamGroup>,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    /// Momentum buffers, per group and parameter; None until a param's first update.
    buffers: Vec<Vec<Option<Tensor>>>,
}

impl Sgd {
    pub fn new(groups: Vec<ParamGroup>, momentum: f64, dampening: f64, nesterov: bool) -> Result<Sgd> {
        const OP: &str = "sgd";
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::argument(OP, format!("momentum {momentum} must be in [0, 1)")));
        }
        if nesterov && (momentum == 0.0 || dampening != 0.0) {
            return Err(Error::argument(
                OP,
                "Nesterov momentum needs momentum > 0 and dampening 0",
            ));
        }
        for g in &groups {
            if !(g.lr >= 0.0 && g.weight_decay >= 0.0) {
                return Err(Error::argument(
                    OP,
                    format!(
                        "group {}: lr {} and weight decay {} must be ≥ 0",
                        g.name, g.lr, g.weight_decay
                    ),
                ));
            }
        }
        let buffers = groups.iter().map(|g| vec![None; g.params.len()]).collect();
        Ok(Sgd {
            groups,
            momentum,
            dampening,
            nesterov,
            buffers,
        })
    }

    pub fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    /// Sets a group's learning rate (LR schedules).
    pub fn set_lr(&mut self, group: usize, lr: f64) {
        self.groups[group].lr = lr;
    }

    /// Updates every parameter that has a gradient, treating the stored gradient as the sum of
    /// `micro_batches` backward passes (so it is divided by that count), then clears gradients.
    pub fn step(&mut self, micro_batches: usize) -> Result<()> {
        if micro_batches == 0 {
            return Err(Error::argument("sgd", "step over 0 micro-batches"));
        }
        for (group, buffers) in self.groups.iter().zip(&mut self.buffers) {
            let hyper = SgdStep {
                lr: group.lr,
                weight_decay: group.weight_decay,
                momentum: self.momentum,
                dampening: self.dampening,
                nesterov: self.nesterov,
                grad_scale: 1.0 / micro_batches as f64,
            };
            // The parameters that have a gradient, stepped together: one call (on CUDA one
            // launch) per group when they share a device and dtype, else one call each.
            let live: Vec<(usize, Tensor, Tensor)> = group
                .params
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((i, p.value(), p.grad()?)))
                .collect();
            let Some((_, first, _)) = live.first() else { continue };
            let uniform = live
                .iter()
                .all(|(_, v, _)| v.device() == first.device() && v.dtype() == first.dtype());
            let items: Vec<SgdTensors> = live
                .iter()
                .map(|(i, value, grad)| SgdTensors {
                    param: value,
                    grad,
                    momentum: buffers[*i].as_ref(),
                })
                .collect();
            let stepped = if uniform {
                backend::of(first).sgd_step_many(&items, &hyper)?
            } else {
                items
                    .iter()
                    .map(|it| backend::of(it.param).sgd_step(it.param, it.grad, it.momentum, &hyper))
                    .collect::<Result<Vec<_>>>()?
            };
            drop(items);
            for ((i, _, _), (new_value, new_buffer)) in live.iter().zip(stepped) {
                let param = &group.params[*i];
                param.set_value(new_value)?;
                buffers[*i] = (self.momentum != 0.0).then_some(new_buffer);
                param.zero_grad();
            }
        }
        Ok(())
    }

    /// The momentum buffers by parameter name (for checkpoints); params not yet updated have none.
    pub fn momentum_buffers(&self) -> Vec<(String, Tensor)> {
        let params = self.groups.iter().flat_map(|g| &g.params);
        params
            .zip(self.buffers.iter().flatten())
            .filter_map(|(p, b)| Some((p.name().to_string(), b.clone()?)))
            .collect()
    }

    /// Restores buffers saved by `momentum_buffers`, each in its parameter's dtype and on its
    /// device (a resumed GPU run keeps its momentum on the GPU); every name must be a parameter
    /// of this optimizer with the same shape, else nothing changes and the error names the tensor.
    pub fn load_momentum_buffers(&mut self, saved: &std::collections::BTreeMap<String, Tensor>) -> Result<()> {
        let mut restored = self.buffers.clone();
        let mut found = 0;
        for (group, buffers) in self.groups.iter().zip(restored.iter_mut()) {
            for (param, buffer) in group.params.iter().zip(buffers.iter_mut()) {
                *buffer = match saved.get(param.name()) {
                    Some(t) if t.dims() != param.value().dims() => {
                        return Err(Error::shape(
                            "sgd",
                            format!(
                                "momentum of {}: saved {}, parameter {}",
                                param.name(),
                                t.shape(),
                                param.value().shape()
                            ),
                        ))
                    }
                    Some(t) => {
                        found += 1;
                        let value = param.value();
                        Some(t.to_dtype(value.dtype())?.to_device(value.device())?)
                    }
                    None => None,
                };
            }
        }
        if found != saved.len() {
            return Err(Error::argument(
                "sgd",
                "saved momentum buffers name parameters this optimizer does not have",
            ));
        }
        self.buffers = restored;
        Ok(())
    }

    /// Drops every accumulated gradient without updating (e.g. a partial accumulation).
    pub fn zero_grad(&self) {
        self.groups.iter().flat_map(|g| &g.params).for_each(Param::zero_grad);
    }
}

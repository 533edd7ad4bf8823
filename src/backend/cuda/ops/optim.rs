//! Launcher of kernels/optim.cu: the SGD-momentum update. The kernel takes a table of any
//! number of tensors so a whole parameter group can step in one launch; the `Backend` trait
//! `Backend::sgd_step_many` (what `Sgd::step` calls per parameter group) is one launch.

use super::common::by_dtype;
use super::common::{self as c, empty, launch, ptr};
use super::CudaBackend;
use crate::backend::cuda::launcher::DeviceBuffer;
use crate::backend::cuda::params::{as_bytes, KernelFloat, SgdParams, SgdSlot};
use crate::backend::optim::SgdStep;
pub use crate::backend::optim::SgdTensors;
use crate::backend::OptimOps;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Steps every tensor of `items` in one launch; returns (new param, new momentum) per item.
pub fn sgd_step_many<T: KernelFloat>(items: &[SgdTensors<'_>], h: &SgdStep) -> Result<Vec<(Tensor, Tensor)>> {
    const OP: &str = "sgd_step";
    let Some(first) = items.first() else {
        return Ok(Vec::new());
    };
    let l = c::launcher(first.param, OP)?;
    let mut outs = Vec::with_capacity(items.len());
    let mut slots = Vec::with_capacity(items.len());
    let mut offset = 0i64;
    for it in items {
        // The kernel reads raw pointers: every tensor must be a T array of the param's size on
        // this device.
        for t in [Some(it.param), Some(it.grad), it.momentum].into_iter().flatten() {
            if t.dtype() != T::DTYPE || t.numel() != it.param.numel() || t.device() != first.param.device() {
                return Err(Error::type_mismatch(
                    OP,
                    format!(
                        "every tensor of a multi-tensor step must be {:?} on {} with the parameter's size; got {:?} {} on {}",
                        T::DTYPE,
                        first.param.device(),
                        t.dtype(),
                        t.shape(),
                        t.device()
                    ),
                ));
            }
        }
        let (p, b) = (
            empty(&l, it.param.dims(), T::DTYPE)?,
            empty(&l, it.param.dims(), T::DTYPE)?,
        );
        slots.push(SgdSlot::<T> {
            p: ptr(it.param, OP)?,
            g: ptr(it.grad, OP)?,
            buf: c::opt_ptr(it.momentum, OP)?,
            p_out: ptr(&p, OP)?,
            buf_out: ptr(&b, OP)?,
            offset,
            len: it.param.numel() as i64,
            ..Default::default()
        });
        offset += it.param.numel() as i64;
        outs.push((p, b));
    }
    let table: Vec<u8> = slots.iter().flat_map(|s| as_bytes(s).to_vec()).collect();
    let table = DeviceBuffer::from_bytes(&l, &table)?;
    let f = T::from_f64;
    let p = SgdParams::<T> {
        slots: table.ptr(),
        num_slots: c::i32_of(slots.len(), OP)?,
        nesterov: h.nesterov as i32,
        total: offset,
        lr: f(h.lr),
        weight_decay: f(h.weight_decay),
        momentum: f(h.momentum),
        dampening: f(h.dampening),
        grad_scale: f(h.grad_scale),
    };
    // SAFETY: every slot's tensors hold `len` elements (same shapes, checked by the caller).
    unsafe { launch::<T, _>(&l, "sgd_step", c::flat(offset as usize), &p)? };
    Ok(outs)
}

pub fn sgd_step<T: KernelFloat>(
    param: &Tensor,
    grad: &Tensor,
    momentum: Option<&Tensor>,
    h: &SgdStep,
) -> Result<(Tensor, Tensor)> {
    let mut out = sgd_step_many::<T>(&[SgdTensors { param, grad, momentum }], h)?;
    Ok(out.remove(0))
}

impl OptimOps for CudaBackend {
    fn sgd_step(
        &self,
        param: &Tensor,
        grad: &Tensor,
        momentum: Option<&Tensor>,
        h: &SgdStep,
    ) -> Result<(Tensor, Tensor)> {
        by_dtype!("sgd_step", param, sgd_step, (param, grad, momentum, h))
    }

    fn sgd_step_many(&self, items: &[SgdTensors<'_>], h: &SgdStep) -> Result<Vec<(Tensor, Tensor)>> {
        let Some(first) = items.first() else {
            return Ok(Vec::new());
        };
        by_dtype!("sgd_step", first.param, sgd_step_many, (items, h))
    }
}

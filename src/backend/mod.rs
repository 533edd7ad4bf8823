//! The op interface every device implements. Arguments arrive checked (shapes, dtypes,
//! devices, geometry) by `crate::ops`; a backend only computes. The CPU reference is the oracle
//! every other implementation is tested against.

pub mod cpu;
pub mod cuda;
pub mod dropout_mask;
pub mod optim;

use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::Result;
use crate::tensor::geometry::{Conv3dGeometry, Pool3dGeometry};
use crate::tensor::{Device, Tensor};
use optim::{SgdStep, SgdTensors};

/// Values in the online-softmax state of a set of windows S (fused scoring, `window_pool_forward`):
/// anchor = the window maximising γ·S (the max for γ ≥ 0, the min for γ < 0), z = Σ e^{γ(S − anchor)},
/// n = Σ S·e^{γ(S − anchor)}, max = max S. Exponents are ≤ 0, so no γ overflows them.
pub const POOL_STATE: usize = 4;

pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;

    /// x: (N, C, T, H, W), w: (O, C, KT, KH, KW), bias: (O) -> (N, O, T', H', W').
    fn conv3d_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Conv3dGeometry) -> Result<Tensor>;
    fn conv3d_x_backward(&self, gy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor>;
    fn conv3d_weight_backward(&self, gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor>;
    fn conv3d_bias_backward(&self, gy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor>;

    /// Returns the pooled tensor and the u32 argmax within each (T, H, W) plane.
    fn max_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry) -> Result<(Tensor, Tensor)>;
    fn max_pool3d_backward(&self, gy: &Tensor, argmax: &Tensor, g: &Pool3dGeometry) -> Result<Tensor>;
    fn avg_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor>;
    fn avg_pool3d_backward(&self, gy: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor>;

    /// x: (N, I), w: (O, I), bias: (O) -> (N, O).
    fn linear_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor>;
    fn linear_x_backward(&self, gy: &Tensor, w: &Tensor) -> Result<Tensor>;
    fn linear_weight_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor>;
    fn linear_bias_backward(&self, gy: &Tensor) -> Result<Tensor>;

    fn relu_forward(&self, x: &Tensor) -> Result<Tensor>;
    fn relu_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor>;
    /// Inverted dropout with the mask a pure function of (seed, index): forward and backward
    /// are the same call.
    fn dropout(&self, x: &Tensor, p: f64, seed: u64) -> Result<Tensor>;
    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor>;
    fn scale(&self, a: &Tensor, factor: f64) -> Result<Tensor>;
    fn permute(&self, x: &Tensor, perm: &[usize]) -> Result<Tensor>;

    /// Over the last axis of x: (..., T) -> (..., T - k + 1), with u32 argmax.
    fn sliding_max_forward(&self, x: &Tensor, k: usize) -> Result<(Tensor, Tensor)>;
    /// gy, argmax: (..., W) -> (..., len).
    fn sliding_max_backward(&self, gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor>;
    /// Over the last axis of s: (..., W) -> pooled (...) and weights (..., W).
    fn softmax_pool_forward(&self, s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)>;
    fn softmax_pool_backward(&self, gf: &Tensor, s: &Tensor, f: &Tensor, p: &Tensor, gamma: f64) -> Result<Tensor>;
    /// Fused test-time scoring over the last axis of per-frame scores x: (..., L): the max over
    /// every window of k frames and temporal softmax pooling with γ in one pass that never
    /// stores the L − k + 1 window scores. Returns online-softmax states (..., POOL_STATE) over
    /// the windows; states of disjoint window sets merge exactly (`infer::pooling::PoolState`).
    fn window_pool_forward(&self, x: &Tensor, k: usize, gamma: f64) -> Result<Tensor>;

    /// Over the last axis of x: (N, K).
    fn log_softmax_forward(&self, x: &Tensor) -> Result<Tensor>;
    fn log_softmax_backward(&self, gy: &Tensor, y: &Tensor) -> Result<Tensor>;
    /// Batch-mean cross-entropy of (N, K) logits; labels already range-checked. Returns a scalar.
    fn cross_entropy_forward(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor>;
    fn cross_entropy_backward(&self, g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor>;

    /// One SGD-momentum update: returns (new parameter, new momentum buffer).
    fn sgd_step(
        &self,
        param: &Tensor,
        grad: &Tensor,
        momentum: Option<&Tensor>,
        h: &SgdStep,
    ) -> Result<(Tensor, Tensor)>;

    /// The same update of several tensors (one dtype, this backend's device) with shared
    /// hyper-parameters; a backend may do them all at once (CUDA: one launch). The default
    /// steps them one by one.
    fn sgd_step_many(&self, items: &[SgdTensors<'_>], h: &SgdStep) -> Result<Vec<(Tensor, Tensor)>> {
        items
            .iter()
            .map(|it| self.sgd_step(it.param, it.grad, it.momentum, h))
            .collect()
    }
}

/// Which CPU implementation computes CPU tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuKind {
    /// Multi-threaded f32 fast paths (the default).
    Fast,
    /// Plain loops only: the oracle, for debugging and comparisons.
    Reference,
}

static CPU_KIND: AtomicU8 = AtomicU8::new(0);

/// Selects the CPU implementation for the whole process.
pub fn set_cpu_kind(kind: CpuKind) {
    CPU_KIND.store(kind as u8, Ordering::Relaxed);
}

pub fn cpu_kind() -> CpuKind {
    match CPU_KIND.load(Ordering::Relaxed) {
        0 => CpuKind::Fast,
        _ => CpuKind::Reference,
    }
}

/// The backend that computes on tensors of `device`.
pub fn for_device(device: Device) -> &'static dyn Backend {
    match device {
        Device::Cpu => match cpu_kind() {
            CpuKind::Fast => &cpu::fast::CpuFast,
            CpuKind::Reference => &cpu::reference::CpuReference,
        },
        Device::Cuda(_) | Device::CudaEmu => &cuda::CudaBackend,
    }
}

/// The backend for `t`'s device.
pub fn of(t: &Tensor) -> &'static dyn Backend {
    for_device(t.device())
}

//! The op interface every device implements: one trait per op family, declared in the file of
//! the family's name (`conv3d.rs`, `pool3d.rs`, …), and `Backend`, their sum. Each backend
//! implements a family in its own file of the same name. Arguments arrive checked (shapes,
//! dtypes, devices, geometry) by `crate::ops`; a backend only computes. The CPU reference is the
//! oracle every other implementation is tested against.

pub mod conv3d;
pub mod cpu;
pub mod cuda;
pub mod dense;
pub mod dropout_mask;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod optim;
pub mod pool3d;
pub mod temporal;

use std::sync::atomic::{AtomicU8, Ordering};

pub use conv3d::Conv3dOps;
pub use dense::DenseOps;
pub use elementwise::ElementwiseOps;
pub use layout::LayoutOps;
pub use loss::LossOps;
pub use optim::OptimOps;
pub use pool3d::PoolOps;
pub use temporal::{TemporalOps, POOL_STATE};

use crate::tensor::{Device, Tensor};

/// Every op family: `&dyn Backend` reaches each family's methods (a concrete backend needs the
/// family's trait in scope). No family method has a default that calls another backend: each
/// backend states in its own family file where every op runs.
pub trait Backend:
    Conv3dOps + PoolOps + DenseOps + ElementwiseOps + LayoutOps + TemporalOps + LossOps + OptimOps + Send + Sync
{
    fn name(&self) -> &'static str;
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

//! Where a tensor's elements live. The CUDA backend adds a `Device::Cuda(ordinal)` tag and a
//! `Storage::Cuda` variant beside the CPU ones; everything that touches elements matches on
//! `Storage`, so a new device is a compile error at each place that must learn about it.

use std::fmt;
use std::sync::Arc;

use super::device_memory::DeviceBuffer;
use super::dtype::DType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    /// A CUDA GPU by ordinal.
    Cuda(usize),
    /// The CPU emulation of the CUDA execution model (feature `cuda-emulation`): the CUDA
    /// backend and kernels, run without a GPU.
    CudaEmu,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
            Device::CudaEmu => write!(f, "cuda-emu"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;

    /// `cpu`, `cuda` (= `cuda:0`), `cuda:N`, or `cuda-emu`.
    fn from_str(s: &str) -> Result<Device, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            "cuda-emu" => Ok(Device::CudaEmu),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| format!("unknown device {s:?}: expected cpu, cuda, cuda:N or cuda-emu")),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    F32(Vec<f32>),
    F64(Vec<f64>),
    U32(Vec<u32>),
}

impl CpuStorage {
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
            CpuStorage::U32(_) => DType::U32,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
            CpuStorage::U32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Elements in CUDA device memory (or the emulator's): `len` elements of `dtype`.
#[derive(Clone, Debug)]
pub struct CudaStorage {
    pub buffer: Arc<DeviceBuffer>,
    pub dtype: DType,
    pub len: usize,
}

impl PartialEq for CudaStorage {
    /// Device storages are equal only when they are the same buffer (comparing contents
    /// would need a copy to the host).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.buffer, &other.buffer) && self.dtype == other.dtype && self.len == other.len
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    Cpu(CpuStorage),
    Cuda(CudaStorage),
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(s) => s.buffer.launcher().device(),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Cuda(s) => s.dtype,
        }
    }
}

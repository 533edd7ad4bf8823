//! Which launcher runs a device's kernels, and copies between host and device storage
//! (`Tensor::to_device`, defined here so that `tensor` needs nothing from this backend).

use std::sync::Arc;

use super::launcher::{DeviceBuffer, KernelLauncher};
use crate::error::{Error, Result};
use crate::tensor::{CpuStorage, CudaStorage, DType, Device, Storage, Tensor};

/// The launcher of a CUDA or emulated device, created on first use.
pub fn launcher_for(device: Device) -> Result<Arc<dyn KernelLauncher>> {
    match device {
        Device::Cpu => Err(Error::type_mismatch("to_device", "the CPU has no kernel launcher")),
        Device::Cuda(ordinal) => super::driver::CudaDriver::get(ordinal),
        Device::CudaEmu => {
            #[cfg(feature = "cuda-emulation")]
            return Ok(super::emulator::Emulator::shared());
            #[cfg(not(feature = "cuda-emulation"))]
            Err(Error::type_mismatch(
                "to_device",
                "the emulated CUDA device needs a build with --features cuda-emulation",
            ))
        }
    }
}

/// Checks that `device` can run here (the CPU always can): a GPU needs its driver, the device
/// and NVRTC; the emulated device needs a build with the `cuda-emulation` feature. The error
/// names `--device`, the option that chose it, so commands can check before any work.
pub fn ensure_usable(device: Device) -> Result<()> {
    if device == Device::Cpu {
        return Ok(());
    }
    launcher_for(device).map(|_| ()).map_err(|e| {
        Error::argument(
            "--device",
            format!("{device} cannot be used here ({e}); choose cpu, or auto to use a GPU only when there is one"),
        )
    })
}

/// What `--device auto` picks: the first CUDA GPU when this machine has a usable one, else the
/// CPU; with a line saying why, for the user.
pub fn auto() -> (Device, String) {
    // CudaDriver::new probes for libcuda before calling into cudarc (which would panic).
    match launcher_for(Device::Cuda(0)) {
        Ok(_) => (Device::Cuda(0), "the first CUDA GPU".to_string()),
        Err(e) => (Device::Cpu, format!("no usable CUDA GPU: {e}")),
    }
}

/// Copies host elements to a new buffer on `launcher`'s device.
pub fn upload(cpu: &CpuStorage, launcher: &Arc<dyn KernelLauncher>) -> Result<CudaStorage> {
    let bytes: Vec<u8> = match cpu {
        CpuStorage::F32(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
        CpuStorage::F64(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
        CpuStorage::U32(v) => v.iter().flat_map(|x| x.to_ne_bytes()).collect(),
    };
    Ok(CudaStorage {
        buffer: Arc::new(DeviceBuffer::from_bytes(launcher, &bytes)?),
        dtype: cpu.dtype(),
        len: cpu.len(),
    })
}

/// Copies device elements back to the host.
pub fn download(s: &CudaStorage) -> Result<CpuStorage> {
    let mut bytes = vec![0u8; s.len * s.dtype.size_in_bytes()];
    s.buffer.launcher().copy_to_host(s.buffer.ptr(), &mut bytes)?;
    Ok(match s.dtype {
        DType::F32 => CpuStorage::F32(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        DType::F64 => CpuStorage::F64(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_ne_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        DType::U32 => CpuStorage::U32(
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
                .collect(),
        ),
    })
}

/// A new uninitialised buffer for `len` elements of `dtype`.
pub fn alloc(launcher: &Arc<dyn KernelLauncher>, dtype: DType, len: usize) -> Result<CudaStorage> {
    Ok(CudaStorage {
        buffer: Arc::new(DeviceBuffer::new(launcher, len * dtype.size_in_bytes())?),
        dtype,
        len,
    })
}

impl Tensor {
    /// A copy on `device` (this tensor itself when it is already there). Host <-> device
    /// copies go through the device's launcher; device -> other device goes via the host.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let host = match self.storage() {
            Storage::Cpu(s) => s.clone(),
            Storage::Cuda(s) => download(s)?,
        };
        match device {
            Device::Cpu => Tensor::from_cpu(self.dims(), host),
            Device::Cuda(_) | Device::CudaEmu => {
                let launcher = launcher_for(device)?;
                Tensor::from_cuda(self.dims(), upload(&host, &launcher)?)
            }
        }
    }
}

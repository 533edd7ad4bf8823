//! Device memory and the one interface between the CUDA backend's Rust launchers and whatever
//! runs kernels: the real driver (`backend/cuda/driver.rs`) or the CPU emulator
//! (`backend/cuda/emulator.rs`). Declared here, with the tensor storage that owns device
//! buffers, so `tensor` needs nothing from the backends. Both take the same
//! kernel name, grid, block, dynamic shared size and parameter bytes, so the emulation tests
//! exercise the production launch code.

use std::fmt;
use std::sync::Arc;

use crate::error::Result;
use crate::tensor::Device;

/// A device address (on the emulator, a host address).
pub type DevicePtr = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchConfig {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared_bytes: u32,
}

impl LaunchConfig {
    /// A one-dimensional launch.
    pub fn linear(grid: u32, block: u32, shared_bytes: u32) -> Self {
        LaunchConfig {
            grid: [grid.max(1), 1, 1],
            block: [block, 1, 1],
            shared_bytes,
        }
    }
}

pub trait KernelLauncher: Send + Sync + fmt::Debug {
    /// The device tensors allocated here report.
    fn device(&self) -> Device;
    /// `bytes` of uninitialised device memory (at least 1 byte is reserved for 0).
    fn alloc(&self, bytes: usize) -> Result<DevicePtr>;
    /// Releases memory from `alloc`; called once, by `DeviceBuffer::drop`.
    fn free(&self, ptr: DevicePtr);
    fn copy_to_device(&self, dst: DevicePtr, src: &[u8]) -> Result<()>;
    fn copy_to_host(&self, src: DevicePtr, dst: &mut [u8]) -> Result<()>;
    /// Runs `kernel` (an entry point of kernels/*.cu) and waits for it.
    ///
    /// # Safety
    /// Every device pointer inside `params` must point into a live allocation of this
    /// launcher, large enough for what the kernel reads or writes with those parameters.
    unsafe fn launch(&self, kernel: &str, cfg: &LaunchConfig, params: &[u8]) -> Result<()>;
}

/// An owned device allocation; freed when the last tensor sharing it is dropped.
pub struct DeviceBuffer {
    ptr: DevicePtr,
    bytes: usize,
    launcher: Arc<dyn KernelLauncher>,
}

impl DeviceBuffer {
    pub fn new(launcher: &Arc<dyn KernelLauncher>, bytes: usize) -> Result<DeviceBuffer> {
        let ptr = launcher.alloc(bytes)?;
        Ok(DeviceBuffer {
            ptr,
            bytes,
            launcher: Arc::clone(launcher),
        })
    }

    /// A buffer holding a copy of `data`.
    pub fn from_bytes(launcher: &Arc<dyn KernelLauncher>, data: &[u8]) -> Result<DeviceBuffer> {
        let buf = DeviceBuffer::new(launcher, data.len())?;
        launcher.copy_to_device(buf.ptr, data)?;
        Ok(buf)
    }

    pub fn ptr(&self) -> DevicePtr {
        self.ptr
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn launcher(&self) -> &Arc<dyn KernelLauncher> {
        &self.launcher
    }

    pub fn to_host(&self) -> Result<Vec<u8>> {
        let mut v = vec![0u8; self.bytes];
        self.launcher.copy_to_host(self.ptr, &mut v)?;
        Ok(v)
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        self.launcher.free(self.ptr);
    }
}

impl fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeviceBuffer({} bytes at {:#x} on {})",
            self.bytes,
            self.ptr,
            self.launcher.device()
        )
    }
}

//! The CUDA backend: hand-written kernels (kernels/*.cu) compiled at run time by NVRTC,
//! launched through the `KernelLauncher` trait — by the real driver, or by the CPU emulator
//! of the execution model (feature `cuda-emulation`) that tests run without a GPU.

pub mod caching;
pub mod device;
pub mod driver;
#[cfg(feature = "cuda-emulation")]
pub mod emulator;
pub mod module_cache;
pub mod nvrtc;
pub mod ops;
pub mod params;
pub mod registry;

/// Device memory and the launcher interface are declared beside the tensor storage that owns
/// them (`tensor::device_memory`); the launchers keep naming them `cuda::launcher`.
pub use crate::tensor::device_memory as launcher;
pub use ops::CudaBackend;

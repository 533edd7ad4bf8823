//! The CUDA backend: hand-written kernels (kernels/*.cu) compiled at run time by NVRTC,
//! launched through the `KernelLauncher` trait — by the real driver, or by the CPU emulator
//! of the execution model (feature `cuda-emulation`) that tests run without a GPU.

pub mod caching;
pub mod device;
pub mod driver;
#[cfg(feature = "cuda-emulation")]
pub mod emulator;
pub mod launcher;
pub mod module_cache;
pub mod nvrtc;
pub mod ops;
pub mod params;
pub mod registry;
pub mod sass;

pub use ops::CudaBackend;

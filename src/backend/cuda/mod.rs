//! The CUDA backend: hand-written kernels (kernels/*.cu) compiled at run time by NVRTC,
//! launched through the `KernelLauncher` trait — by the real driver, or by the CPU emulator
//! of the execution model (feature `cuda-emulation`) that tests run without a GPU.

pub mod nvrtc;
pub mod registry;

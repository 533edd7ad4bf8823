//! Layer 3 of kernel verification (DESIGN.md): the same comparisons as the emulator suite
//! (tests/common/kernel_cases.rs) on a real GPU, `Device::Cuda(0)`, with the kernels compiled
//! by NVRTC at run time. Without a GPU (or without libcuda / STSM_NVRTC_LIB) each test prints
//! `SKIP: no CUDA device` and passes. scripts/gpu-check.sh runs this on a GPU machine.

mod common;

use common::kernel_cases as cases;
use stsm_engine::backend::cuda::device::launcher_for;
use stsm_engine::tensor::Device;

/// The GPU to test, or None (after printing why) when there is none.
fn gpu() -> Option<Device> {
    match launcher_for(Device::Cuda(0)) {
        Ok(_) => Some(Device::Cuda(0)),
        Err(e) => {
            eprintln!("SKIP: no CUDA device ({e})");
            None
        }
    }
}

macro_rules! on_gpu {
    ($($name:ident),* $(,)?) => {
        $(#[test]
        fn $name() {
            if let Some(dev) = gpu() {
                cases::$name(dev);
            }
        })*
    };
}

cases::every_case!(on_gpu);

#[test]
fn tiny_net_sgd_steps_on_the_gpu_match_the_cpu() {
    if let Some(dev) = gpu() {
        common::tiny::assert_tracks_cpu(dev);
    }
}

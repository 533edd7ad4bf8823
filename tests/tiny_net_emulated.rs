//! Acceptance test of the CUDA backend without a GPU: a few SGD steps of the tiny 3D CNN on the
//! emulated device track the CPU reference (tolerances in tests/common/tiny.rs: f32, loss
//! within 1e-4 relative at every step, parameters within 1e-4·(1 + |p|) after 3 steps).
#![cfg(feature = "cuda-emulation")]

mod common;

use stsm_engine::tensor::Device;

#[test]
fn tiny_net_sgd_steps_on_the_emulated_device_match_the_cpu() {
    common::tiny::assert_tracks_cpu(Device::CudaEmu);
}

//! Layer 2 for the bf16 tensor-core path (kernels/bf16.cu, kernels/conv3d_bf16.cu): the
//! kernels compiled by g++ against the emulator, run through the production launchers and
//! compared with the CPU (tests/common/bf16_cases.rs). Run with
//! `cargo test --features cuda-emulation --test conv3d_bf16_emulated`.
#![cfg(feature = "cuda-emulation")]

mod common;

use common::bf16_cases as cases;
use stsm_engine::tensor::Device;

#[test]
fn bf16_conversions_match_the_cpu_bit_for_bit() {
    cases::bf16_conversions_match_the_cpu_bit_for_bit(Device::CudaEmu);
}

#[test]
fn bf16_layouts_match_the_cpu() {
    cases::bf16_layouts_match_the_cpu(Device::CudaEmu);
}

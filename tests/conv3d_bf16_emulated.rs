//! Layer 2 for the bf16 tensor-core path (kernels/bf16.cu, kernels/conv3d_bf16.cu): the
//! kernels compiled by g++ against the emulator, run through the production launchers and
//! compared with the CPU (tests/common/bf16_cases.rs). Run with
//! `cargo test --features cuda-emulation --test conv3d_bf16_emulated`.
#![cfg(feature = "cuda-emulation")]

mod common;

use std::sync::Arc;

use common::bf16_cases as cases;
use stsm_engine::backend::cpu::reference::CpuReference;
use stsm_engine::backend::cuda::device;
use stsm_engine::backend::cuda::emulator::{self, bank_conflicts, Emulator};
use stsm_engine::backend::cuda::launcher::KernelLauncher;
use stsm_engine::backend::cuda::ops::bf16::padded_channels;
use stsm_engine::backend::cuda::ops::conv3d_bf16::{self as k, Plan, Tile};
use stsm_engine::backend::Conv3dOps;
use stsm_engine::tensor::{Device, Storage, Tensor};

const CPU: CpuReference = CpuReference;

#[test]
fn bf16_conversions_match_the_cpu_bit_for_bit() {
    cases::bf16_conversions_match_the_cpu_bit_for_bit(Device::CudaEmu);
}

#[test]
fn bf16_layouts_match_the_cpu() {
    cases::bf16_layouts_match_the_cpu(Device::CudaEmu);
}

/// fp32 stores on the emulator: its mma adds in one fixed fp32 order.
const REL_TOL: f64 = 1e-5;

#[test]
fn bf16_conv_kernels_match_the_reference_on_ragged_shapes() {
    cases::conv_cases_match_the_reference(Device::CudaEmu, &cases::ragged_cases(), REL_TOL);
}

// C3D's channel counts in three tests, so the harness runs them side by side: the 512-channel
// layers alone are most of this file's time (K = 27·512 at every tile). Under ASan + UBSan
// (scripts/emu-sanitize.sh, about 4x slower) the 256- and 512-channel layers are left out:
// they run the same code as conv1a–conv3a and the ragged shapes, with longer K only.
#[test]
fn bf16_conv_kernels_match_the_reference_on_c3d_conv1a_to_conv3a() {
    cases::conv_cases_match_the_reference(Device::CudaEmu, &cases::c3d_channel_cases()[..3], REL_TOL);
}

#[test]
fn bf16_conv_kernels_match_the_reference_on_c3d_conv3b_conv4a() {
    if emulator::sanitized() {
        eprintln!("conv3b/conv4a channel counts: not under the sanitizer (see the comment above)");
        return;
    }
    cases::conv_cases_match_the_reference(Device::CudaEmu, &cases::c3d_channel_cases()[3..5], REL_TOL);
}

#[test]
fn bf16_conv_kernels_match_the_reference_on_c3d_conv4b_conv5() {
    if emulator::sanitized() {
        eprintln!("conv4b/conv5 channel counts: not under the sanitizer (see the comment above)");
        return;
    }
    cases::conv_cases_match_the_reference(Device::CudaEmu, &cases::c3d_channel_cases()[5..], REL_TOL);
}

/// Every tile configuration of the three GEMM kernels reads its fragments with ldmatrix and
/// fills shared memory with cp.async without a single bank conflict (the swizzled layouts).
#[test]
fn bf16_conv_main_loops_have_no_bank_conflicts() {
    let c = &cases::ragged_cases()[0];
    for tile in Tile::ALL {
        cases::check_case(Device::CudaEmu, c, Some(Plan { tile, splits: 1 }), REL_TOL, 7);
        for kernel in ["conv3d_fwd_bf16", "conv3d_xbwd_bf16", "conv3d_wbwd_bf16"] {
            let name = format!("{kernel}_{}", tile_suffix(tile));
            let counts = bank_conflicts(&name).unwrap_or_else(|| panic!("{name} was not launched"));
            assert!(
                counts.ldmatrix.instructions > 0 && counts.cp_async.instructions > 0,
                "{name}: no ldmatrix or cp.async counted: {counts:?}"
            );
            assert_eq!(counts.extra_wavefronts(), 0, "{name}: bank conflicts {counts:?}");
        }
    }
}

fn tile_suffix(t: Tile) -> String {
    format!("{}x{}", t.rows(), t.cols())
}

/// Mutation test: conv3d_bf16.cu built with STSM_MUTATE_CONV_BF16_OFF_BY_ONE (every kernel
/// reads the input one tap to the side) must fail the same comparisons; the real kernels on
/// the same inputs pass them.
#[test]
fn bf16_conv_off_by_one_mutant_is_caught() {
    let mutant: Arc<dyn KernelLauncher> = Arc::new(Emulator::new(true));
    let c = &cases::ragged_cases()[1];
    let cases::Prepared { x, w, b, gy, g } = cases::prepare(c, 11);
    // Inputs laid out on the host: the mutant build has only conv3d_bf16.cu's kernels.
    let up = |t: &Tensor| match t.storage() {
        Storage::Cpu(s) => Tensor::from_cuda(t.dims(), device::upload(s, &mutant).unwrap()).unwrap(),
        Storage::Cuda(_) => unreachable!(),
    };
    let nl = |t: &Tensor| {
        let d = t.dims();
        cases::bf16_tensor(
            &[d[0], d[2], d[3], d[4], padded_channels(d[1])],
            &cases::channels_last(t),
        )
    };
    let (o, ch) = (g.out_channels, g.in_channels);
    let taps: usize = g.kernel.iter().product();
    let xd = up(&nl(&x));
    let gyd = up(&nl(&gy));
    let wf = up(&cases::bf16_tensor(
        &[o, taps, padded_channels(ch)],
        &cases::channels_last(&w.reshape(&[o, ch, taps]).unwrap()),
    ));
    let wx = up(&cases::bf16_tensor(
        &[ch, taps, padded_channels(o)],
        &cases::x_backward_weights(&w),
    ));
    let plan = Plan {
        tile: Tile::T64x64,
        splits: 1,
    };
    let (x64, w64, gy64) = (cases::f64s(&x), cases::f64s(&w), cases::f64s(&gy));
    let y_ref = CPU.conv3d_forward(&x64, &w64, Some(&cases::f64s(&b)), &g).unwrap();
    let y_ref = cases::to_nlast(&y_ref.to_f64_vec().unwrap(), &g.output_dims());
    let gx_ref = CPU.conv3d_x_backward(&gy64, &w64, &g).unwrap();
    let gx_ref = cases::to_nlast(&gx_ref.to_f64_vec().unwrap(), &g.input_dims());
    let gw_ref = CPU
        .conv3d_weight_backward(&gy64, &x64, &g)
        .unwrap()
        .to_f64_vec()
        .unwrap();
    let rel = |got: &[f64], want: &[f64]| {
        let d: f64 = got.iter().zip(want).map(|(a, b)| (a - b) * (a - b)).sum();
        let n: f64 = want.iter().map(|b| b * b).sum();
        (d / n).sqrt()
    };
    let y = k::forward_with(&xd, &wf, Some(&up(&b)), &g, false, true, plan).unwrap();
    let e = rel(&y.f32.unwrap().to_f64_vec().unwrap(), &y_ref);
    assert!(
        e > 1e-2,
        "the mutant forward matched the reference ({e:.2e}): the comparison is blind"
    );
    let gx = k::x_backward_with(&gyd, &wx, &g, true, plan).unwrap();
    let e = rel(&gx.f32.unwrap().to_f64_vec().unwrap(), &gx_ref);
    assert!(e > 1e-2, "the mutant input gradient matched the reference ({e:.2e})");
    let gw = k::weight_backward_with(&gyd, &xd, &g, plan).unwrap();
    let e = rel(&gw.to_f64_vec().unwrap(), &gw_ref);
    assert!(e > 1e-2, "the mutant weight gradient matched the reference ({e:.2e})");
    // The real kernels on the same case and plan pass.
    cases::check_case(Device::CudaEmu, c, Some(plan), REL_TOL, 11);
}

//! Layer 2 of kernel verification (DESIGN.md): every kernel, compiled by g++ against our
//! emulation of the CUDA execution model, run through the production Rust launchers
//! (`CudaBackend`) and compared with the CPU reference (tests/common/kernel_cases.rs).
//! Run with `cargo test --features cuda-emulation --test cuda_emulation`.
#![cfg(feature = "cuda-emulation")]

mod common;

use std::sync::Arc;

use common::kernel_cases::{self as cases, assert_close, conv_cases, conv_tensors, on};
use stsm_engine::backend::cpu::reference::CpuReference;
use stsm_engine::backend::cuda::emulator::{cpp_layout, cpp_layout_rows, Emulator};
use stsm_engine::backend::cuda::launcher::KernelLauncher;
use stsm_engine::backend::cuda::{device, params, registry, CudaBackend};
use stsm_engine::backend::{Conv3dOps, LossOps, OptimOps};
use stsm_engine::tensor::{DType, Device, Storage, Tensor};

const CPU: CpuReference = CpuReference;

macro_rules! on_emulator {
    ($($name:ident),* $(,)?) => {
        $(#[test]
        fn $name() {
            cases::$name(Device::CudaEmu);
        })*
    };
}

cases::every_case!(on_emulator);

/// Split-K of the weight gradient: any number of K slices (more slices than BK steps
/// included, which leaves empty slices) gives the reference result.
#[test]
fn conv3d_weight_gradient_split_k_matches_the_reference() {
    use stsm_engine::backend::cuda::ops::conv3d::{weight_backward_split, weight_backward_splits};
    for (i, c) in conv_cases().iter().enumerate() {
        let (x, _, _, g) = conv_tensors(c, DType::F64, i as u64);
        let gy = Tensor::from_vec(
            &g.output_dims(),
            (0..g.output_dims().iter().product::<usize>())
                .map(|v| (v % 7) as f64 - 3.0)
                .collect(),
        )
        .unwrap();
        let want = CPU.conv3d_weight_backward(&gy, &x, &g).unwrap();
        let (ex, egy) = (on(Device::CudaEmu, &x), on(Device::CudaEmu, &gy));
        for splits in [1, 2, 3, 40] {
            let got = weight_backward_split::<f64>(&egy, &ex, &g, splits).unwrap();
            assert_close(&format!("conv3d_wbwd split {splits} case {i}"), &got, &want);
        }
        assert!(weight_backward_splits(&g) >= 1);
    }
}

/// Mutation test: conv3d.cu compiled with STSM_MUTATE_CONV_OFF_BY_ONE (a shifted input tap)
/// must be caught by the same comparison — proof that the comparison can fail.
#[test]
fn conv3d_off_by_one_mutant_is_caught() {
    let mutant: Arc<dyn KernelLauncher> = Arc::new(Emulator::new(true));
    let on_mutant = |t: &Tensor| match t.storage() {
        Storage::Cpu(s) => Tensor::from_cuda(t.dims(), device::upload(s, &mutant).unwrap()).unwrap(),
        Storage::Cuda(_) => unreachable!(),
    };
    let (x, w, b, g) = conv_tensors(&conv_cases()[1], DType::F64, 1);
    let got = CudaBackend
        .conv3d_forward(&on_mutant(&x), &on_mutant(&w), Some(&on_mutant(&b)), &g)
        .unwrap();
    let want = CPU.conv3d_forward(&x, &w, Some(&b), &g).unwrap();
    let worst = got
        .to_f64_vec()
        .unwrap()
        .iter()
        .zip(want.to_f64_vec().unwrap())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst > 1e-3,
        "the mutant conv matched the reference (max diff {worst}): the comparison is blind"
    );
    // The real kernel on the same inputs passes, so the difference is the mutation's.
    let real = CudaBackend
        .conv3d_forward(
            &on(Device::CudaEmu, &x),
            &on(Device::CudaEmu, &w),
            Some(&on(Device::CudaEmu, &b)),
            &g,
        )
        .unwrap();
    assert_close("conv3d_fwd beside the mutant", &real, &want);
}

#[test]
fn parameter_structs_have_the_same_layout_in_rust_and_cpp() {
    let rows = params::layout_rows();
    for (ty, field, rust) in &rows {
        let cpp = cpp_layout(ty, field).unwrap_or_else(|| panic!("C++ has no layout row for {ty}.{field}"));
        assert_eq!(*rust, cpp, "{ty}.{field}: Rust {rust}, C++ {cpp}");
    }
    assert_eq!(rows.len(), cpp_layout_rows(), "Rust and C++ list different fields");
}

#[test]
fn every_registered_kernel_exists_in_the_emulator() {
    let emu = Emulator::new(false);
    for src in registry::SOURCES {
        for k in src.entry_points {
            assert!(emu.has_kernel(k), "{k} of {} is not in the emulator build", src.file);
        }
    }
}

#[test]
fn a_wrong_parameter_struct_size_is_an_error_not_a_crash() {
    let emu: Arc<dyn KernelLauncher> = Arc::new(Emulator::new(false));
    let cfg = stsm_engine::backend::cuda::launcher::LaunchConfig::linear(1, 32, 0);
    // SAFETY: the launch is refused before the kernel could read the (absent) pointers.
    let err = unsafe { emu.launch("relu_fwd_f32", &cfg, &[0u8; 3]) }
        .unwrap_err()
        .to_string();
    assert!(err.contains("parameter struct is 3 bytes"), "{err}");
    let err = unsafe { emu.launch("no_such_kernel_f32", &cfg, &[]) }
        .unwrap_err()
        .to_string();
    assert!(err.contains("no emulated kernel"), "{err}");
}

#[test]
fn device_round_trip_and_wrong_device_access() {
    let t = Tensor::from_vec(&[2, 3], vec![1.0f32, -2.0, 3.5, 0.0, 5.0, -6.25]).unwrap();
    let e = on(Device::CudaEmu, &t);
    assert_eq!(e.device(), Device::CudaEmu);
    assert_eq!(e.to_vec::<f32>().unwrap(), t.to_vec::<f32>().unwrap());
    let err = e.as_slice::<f32>("conv3d").unwrap_err().to_string();
    assert!(err.contains("cuda-emu") && err.contains("to_device"), "{err}");
}

#[test]
fn device_memory_is_freed_when_tensors_drop() {
    let emu = Arc::new(Emulator::new(false));
    let l: Arc<dyn KernelLauncher> = emu.clone();
    {
        let (x, w, b, g) = conv_tensors(&conv_cases()[0], DType::F32, 3);
        let up = |t: &Tensor| match t.storage() {
            Storage::Cpu(s) => Tensor::from_cuda(t.dims(), device::upload(s, &l).unwrap()).unwrap(),
            Storage::Cuda(_) => unreachable!(),
        };
        let (ex, ew, eb) = (up(&x), up(&w), up(&b));
        let y = CudaBackend.conv3d_forward(&ex, &ew, Some(&eb), &g).unwrap();
        let loss = CudaBackend
            .cross_entropy_forward(&y.reshape(&[1, y.numel()]).unwrap(), &[0])
            .unwrap();
        assert!(loss.item().unwrap().is_finite());
        assert!(emu.live_bytes() > 0);
    }
    assert_eq!(emu.live_bytes(), 0, "device buffers leaked");
}

#[test]
fn a_multi_tensor_step_rejects_mixed_dtypes_and_sizes() {
    use stsm_engine::optim::{SgdStep, SgdTensors};
    let h = SgdStep {
        lr: 0.1,
        weight_decay: 0.0,
        momentum: 0.9,
        dampening: 0.0,
        nesterov: false,
        grad_scale: 1.0,
    };
    let p32 = on(Device::CudaEmu, &Tensor::from_vec(&[3], vec![1f32, 2.0, 3.0]).unwrap());
    let p64 = on(Device::CudaEmu, &Tensor::from_vec(&[3], vec![1f64, 2.0, 3.0]).unwrap());
    let short = on(Device::CudaEmu, &Tensor::from_vec(&[2], vec![1f32, 2.0]).unwrap());
    let mixed = [
        SgdTensors {
            param: &p32,
            grad: &p32,
            momentum: None,
        },
        SgdTensors {
            param: &p64,
            grad: &p64,
            momentum: None,
        },
    ];
    let err = CudaBackend.sgd_step_many(&mixed, &h).unwrap_err().to_string();
    assert!(err.contains("multi-tensor step"), "{err}");
    let sized = [SgdTensors {
        param: &p32,
        grad: &short,
        momentum: None,
    }];
    assert!(CudaBackend.sgd_step_many(&sized, &h).is_err());
}

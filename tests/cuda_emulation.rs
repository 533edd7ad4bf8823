//! Layer 2 of kernel verification (DESIGN.md): every kernel, compiled by g++ against our
//! emulation of the CUDA execution model, run through the production Rust launchers
//! (`CudaBackend`) and compared with the CPU reference on small ragged shapes, in f32 and f64.
//! Run with `cargo test --features cuda-emulation --test cuda_emulation`.
#![cfg(feature = "cuda-emulation")]

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::backend::cpu::reference::CpuReference;
use stsm_engine::backend::cuda::emulator::{cpp_layout, cpp_layout_rows, Emulator};
use stsm_engine::backend::cuda::launcher::KernelLauncher;
use stsm_engine::backend::cuda::ops::optim::{sgd_step_many, SgdTensors};
use stsm_engine::backend::cuda::{device, params, registry, CudaBackend};
use stsm_engine::backend::Backend;
use stsm_engine::ops::{Conv3dGeometry, Conv3dOptions, Pool3dGeometry, Pool3dOptions};
use stsm_engine::optim::SgdStep;
use stsm_engine::tensor::{DType, Device, Shape, Storage, Tensor};

const CPU: CpuReference = CpuReference;
const EMU: CudaBackend = CudaBackend;
const DTYPES: [DType; 2] = [DType::F32, DType::F64];

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn random(r: &mut ChaCha8Rng, dims: &[usize], dtype: DType) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n).map(|_| r.gen_range(-1.0..1.0)).collect();
    Tensor::from_vec(dims, v).unwrap().to_dtype(dtype).unwrap()
}

fn emu(t: &Tensor) -> Tensor {
    t.to_device(Device::CudaEmu).unwrap()
}

fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-11,
        _ => 2e-5,
    }
}

/// Compares an emulated result with the reference: |a - b| <= tol * (1 + |b|) elementwise.
fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.device(), Device::CudaEmu, "{what}: result left the device");
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let tol = tolerance(want.dtype());
    let (g, w) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a - b).abs() <= tol * (1.0 + b.abs()) || (a.is_nan() && b.is_nan());
        assert!(
            ok,
            "{what}: element {i} of {}: emulated {a}, reference {b}",
            got.shape()
        );
    }
}

struct ConvCase {
    batch: usize,
    cin: usize,
    cout: usize,
    input: [usize; 3],
    kernel: [usize; 3],
    opts: Conv3dOptions,
}

/// Ragged on purpose: no size a multiple of the 32×32×16 GEMM tile, channels above one tile.
fn conv_cases() -> Vec<ConvCase> {
    let o = |stride, padding| Conv3dOptions { stride, padding };
    vec![
        ConvCase {
            batch: 1,
            cin: 2,
            cout: 3,
            input: [3, 5, 4],
            kernel: [2, 3, 2],
            opts: o([1, 1, 1], [0, 1, 0]),
        },
        ConvCase {
            batch: 3,
            cin: 3,
            cout: 5,
            input: [4, 6, 5],
            kernel: [3, 3, 3],
            opts: o([2, 1, 2], [1, 1, 1]),
        },
        ConvCase {
            batch: 2,
            cin: 1,
            cout: 33,
            input: [2, 7, 9],
            kernel: [1, 3, 3],
            opts: o([1, 2, 2], [0, 1, 2]),
        },
    ]
}

fn conv_tensors(c: &ConvCase, dtype: DType, seed: u64) -> (Tensor, Tensor, Tensor, Conv3dGeometry) {
    let mut r = rng(seed);
    let [t, h, w] = c.input;
    let [kt, kh, kw] = c.kernel;
    let x = random(&mut r, &[c.batch, c.cin, t, h, w], dtype);
    let wt = random(&mut r, &[c.cout, c.cin, kt, kh, kw], dtype);
    let b = random(&mut r, &[c.cout], dtype);
    let g = Conv3dGeometry::new(x.shape(), wt.shape(), &c.opts).unwrap();
    (x, wt, b, g)
}

#[test]
fn conv3d_forward_and_all_gradients_match_the_reference() {
    for dtype in DTYPES {
        for (i, c) in conv_cases().iter().enumerate() {
            let (x, w, b, g) = conv_tensors(c, dtype, i as u64);
            let gy = random(&mut rng(100 + i as u64), &g.output_dims(), dtype);
            let (ex, ew, eb, egy) = (emu(&x), emu(&w), emu(&b), emu(&gy));
            let tag = |s: &str| format!("{s} case {i} {dtype:?}");
            assert_close(
                &tag("conv3d_fwd"),
                &EMU.conv3d_forward(&ex, &ew, Some(&eb), &g).unwrap(),
                &CPU.conv3d_forward(&x, &w, Some(&b), &g).unwrap(),
            );
            assert_close(
                &tag("conv3d_fwd no bias"),
                &EMU.conv3d_forward(&ex, &ew, None, &g).unwrap(),
                &CPU.conv3d_forward(&x, &w, None, &g).unwrap(),
            );
            assert_close(
                &tag("conv3d_xbwd"),
                &EMU.conv3d_x_backward(&egy, &ew, &g).unwrap(),
                &CPU.conv3d_x_backward(&gy, &w, &g).unwrap(),
            );
            assert_close(
                &tag("conv3d_wbwd"),
                &EMU.conv3d_weight_backward(&egy, &ex, &g).unwrap(),
                &CPU.conv3d_weight_backward(&gy, &x, &g).unwrap(),
            );
            assert_close(
                &tag("conv3d_bbwd"),
                &EMU.conv3d_bias_backward(&egy, &g).unwrap(),
                &CPU.conv3d_bias_backward(&gy, &g).unwrap(),
            );
        }
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
    let got = EMU
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
    let real = EMU.conv3d_forward(&emu(&x), &emu(&w), Some(&emu(&b)), &g).unwrap();
    assert_close("conv3d_fwd beside the mutant", &real, &want);
}

fn pool_cases() -> Vec<(usize, [usize; 3], Pool3dOptions)> {
    vec![
        (1, [4, 6, 6], Pool3dOptions::new([2, 2, 2])),
        (3, [3, 7, 5], Pool3dOptions::new([1, 2, 2])),
        (
            2,
            [5, 6, 7],
            Pool3dOptions {
                kernel: [3, 3, 2],
                stride: [2, 1, 2],
                padding: [1, 1, 1],
                ceil_mode: true,
            },
        ),
    ]
}

#[test]
fn pooling_forward_and_backward_match_the_reference() {
    for dtype in DTYPES {
        for (i, (batch, [t, h, w], opts)) in pool_cases().into_iter().enumerate() {
            let mut r = rng(200 + i as u64);
            let x = random(&mut r, &[batch, 2, t, h, w], dtype);
            let g = Pool3dGeometry::new("pool", x.shape(), &opts).unwrap();
            let gy = random(&mut r, &g.output_dims(), dtype);
            let (ex, egy) = (emu(&x), emu(&gy));
            let tag = |s: &str| format!("{s} case {i} {dtype:?}");
            let (y, arg) = CPU.max_pool3d_forward(&x, &g).unwrap();
            let (ey, earg) = EMU.max_pool3d_forward(&ex, &g).unwrap();
            assert_close(&tag("max_pool3d_fwd"), &ey, &y);
            assert_eq!(
                earg.to_vec::<u32>().unwrap(),
                arg.to_vec::<u32>().unwrap(),
                "{}",
                tag("argmax")
            );
            assert_close(
                &tag("max_pool3d_bwd"),
                &EMU.max_pool3d_backward(&egy, &earg, &g).unwrap(),
                &CPU.max_pool3d_backward(&gy, &arg, &g).unwrap(),
            );
            for pad in [false, true] {
                let tag = |s: &str| format!("{s} case {i} {dtype:?} count_include_pad {pad}");
                assert_close(
                    &tag("avg_pool3d_fwd"),
                    &EMU.avg_pool3d_forward(&ex, &g, pad).unwrap(),
                    &CPU.avg_pool3d_forward(&x, &g, pad).unwrap(),
                );
                assert_close(
                    &tag("avg_pool3d_bwd"),
                    &EMU.avg_pool3d_backward(&egy, &g, pad).unwrap(),
                    &CPU.avg_pool3d_backward(&gy, &g, pad).unwrap(),
                );
            }
        }
    }
}

#[test]
fn max_pool_ties_and_nan_follow_the_reference() {
    // Ties pick the first maximum; a NaN wins its window.
    let mut v = vec![1.0f32; 2 * 4 * 4];
    v[5] = f32::NAN;
    let x = Tensor::from_vec(&[1, 1, 2, 4, 4], v).unwrap();
    let g = Pool3dGeometry::new("pool", x.shape(), &Pool3dOptions::new([2, 2, 2])).unwrap();
    let (y, arg) = CPU.max_pool3d_forward(&x, &g).unwrap();
    let (ey, earg) = EMU.max_pool3d_forward(&emu(&x), &g).unwrap();
    assert_close("max_pool3d ties/NaN", &ey, &y);
    assert_eq!(earg.to_vec::<u32>().unwrap(), arg.to_vec::<u32>().unwrap());
}

#[test]
fn elementwise_ops_match_the_reference() {
    for dtype in DTYPES {
        let mut r = rng(300);
        let mut x = random(&mut r, &[3, 5, 67], dtype).to_f64_vec().unwrap();
        x[0] = 0.0; // relu's gradient at exactly 0 is 0
        let x = Tensor::from_vec(&[3, 5, 67], x).unwrap().to_dtype(dtype).unwrap();
        let y = random(&mut r, &[3, 5, 67], dtype);
        let (ex, ey) = (emu(&x), emu(&y));
        assert_close(
            "relu_fwd",
            &EMU.relu_forward(&ex).unwrap(),
            &CPU.relu_forward(&x).unwrap(),
        );
        assert_close(
            "relu_bwd",
            &EMU.relu_backward(&ey, &ex).unwrap(),
            &CPU.relu_backward(&y, &x).unwrap(),
        );
        assert_close("add", &EMU.add(&ex, &ey).unwrap(), &CPU.add(&x, &y).unwrap());
        assert_close("scale", &EMU.scale(&ex, -0.37).unwrap(), &CPU.scale(&x, -0.37).unwrap());
        for (p, seed) in [(0.0, 1), (0.3, 7), (0.5, u64::MAX), (1.0, 3)] {
            // The identical mask: compare exactly, not within a tolerance.
            let got = EMU.dropout(&ex, p, seed).unwrap().to_f64_vec().unwrap();
            let want = CPU.dropout(&x, p, seed).unwrap().to_f64_vec().unwrap();
            assert_eq!(got, want, "dropout p={p} seed={seed} {dtype:?}");
        }
    }
}

#[test]
fn linear_forward_and_gradients_match_the_reference() {
    for dtype in DTYPES {
        for (i, (rows, ins, outs)) in [(3, 37, 5), (1, 70, 33), (35, 3, 2)].into_iter().enumerate() {
            let mut r = rng(400 + i as u64);
            let x = random(&mut r, &[rows, ins], dtype);
            let w = random(&mut r, &[outs, ins], dtype);
            let b = random(&mut r, &[outs], dtype);
            let gy = random(&mut r, &[rows, outs], dtype);
            let (ex, ew, eb, egy) = (emu(&x), emu(&w), emu(&b), emu(&gy));
            let tag = |s: &str| format!("{s} case {i} {dtype:?}");
            assert_close(
                &tag("linear_fwd"),
                &EMU.linear_forward(&ex, &ew, Some(&eb)).unwrap(),
                &CPU.linear_forward(&x, &w, Some(&b)).unwrap(),
            );
            assert_close(
                &tag("linear_fwd no bias"),
                &EMU.linear_forward(&ex, &ew, None).unwrap(),
                &CPU.linear_forward(&x, &w, None).unwrap(),
            );
            assert_close(
                &tag("linear_xbwd"),
                &EMU.linear_x_backward(&egy, &ew).unwrap(),
                &CPU.linear_x_backward(&gy, &w).unwrap(),
            );
            assert_close(
                &tag("linear_wbwd"),
                &EMU.linear_weight_backward(&egy, &ex).unwrap(),
                &CPU.linear_weight_backward(&gy, &x).unwrap(),
            );
            assert_close(
                &tag("linear_bbwd"),
                &EMU.linear_bias_backward(&egy).unwrap(),
                &CPU.linear_bias_backward(&gy).unwrap(),
            );
        }
    }
}

#[test]
fn temporal_ops_match_the_reference() {
    for dtype in DTYPES {
        let mut r = rng(500);
        let x = random(&mut r, &[2, 3, 9], dtype);
        let (y, arg) = CPU.sliding_max_forward(&x, 4).unwrap();
        let (ey, earg) = EMU.sliding_max_forward(&emu(&x), 4).unwrap();
        assert_close("sliding_max_fwd", &ey, &y);
        assert_eq!(earg.to_vec::<u32>().unwrap(), arg.to_vec::<u32>().unwrap());
        let gy = random(&mut r, y.dims(), dtype);
        assert_close(
            "sliding_max_bwd",
            &EMU.sliding_max_backward(&emu(&gy), &earg, 9).unwrap(),
            &CPU.sliding_max_backward(&gy, &arg, 9).unwrap(),
        );
        let s = random(&mut r, &[3, 2, 7], dtype);
        for gamma in [0.5, 3.0] {
            let (f, p) = CPU.softmax_pool_forward(&s, gamma).unwrap();
            let (ef, ep) = EMU.softmax_pool_forward(&emu(&s), gamma).unwrap();
            assert_close("softmax_pool_fwd f", &ef, &f);
            assert_close("softmax_pool_fwd p", &ep, &p);
            let gf = random(&mut r, f.dims(), dtype);
            assert_close(
                "softmax_pool_bwd",
                &EMU.softmax_pool_backward(&emu(&gf), &emu(&s), &ef, &ep, gamma).unwrap(),
                &CPU.softmax_pool_backward(&gf, &s, &f, &p, gamma).unwrap(),
            );
        }
    }
}

#[test]
fn loss_ops_match_the_reference() {
    for dtype in DTYPES {
        // 300 classes: more than one element per thread of a 256-thread block.
        for (rows, classes) in [(3, 7), (2, 300), (1, 1)] {
            let mut r = rng(600 + classes as u64);
            let x = random(&mut r, &[rows, classes], dtype);
            let gy = random(&mut r, &[rows, classes], dtype);
            let labels: Vec<usize> = (0..rows).map(|i| (i * 5 + 1) % classes).collect();
            let tag = |s: &str| format!("{s} ({rows}, {classes}) {dtype:?}");
            let y = CPU.log_softmax_forward(&x).unwrap();
            let ey = EMU.log_softmax_forward(&emu(&x)).unwrap();
            assert_close(&tag("log_softmax_fwd"), &ey, &y);
            assert_close(
                &tag("log_softmax_bwd"),
                &EMU.log_softmax_backward(&emu(&gy), &ey).unwrap(),
                &CPU.log_softmax_backward(&gy, &y).unwrap(),
            );
            assert_close(
                &tag("cross_entropy_fwd"),
                &EMU.cross_entropy_forward(&emu(&x), &labels).unwrap(),
                &CPU.cross_entropy_forward(&x, &labels).unwrap(),
            );
            assert_close(
                &tag("cross_entropy_bwd"),
                &EMU.cross_entropy_backward(0.7, &emu(&x), &labels).unwrap(),
                &CPU.cross_entropy_backward(0.7, &x, &labels).unwrap(),
            );
        }
    }
}

#[test]
fn permute_matches_the_reference() {
    for dtype in DTYPES {
        let mut r = rng(700);
        for (dims, perm) in [
            (vec![2, 3, 4, 5], vec![0, 2, 3, 1]),
            (vec![2, 1, 3, 2, 5], vec![4, 2, 0, 3, 1]),
            (vec![7], vec![0]),
        ] {
            let x = random(&mut r, &dims, dtype);
            assert_close(
                &format!("permute {dims:?} {perm:?}"),
                &EMU.permute(&emu(&x), &perm).unwrap(),
                &CPU.permute(&x, &perm).unwrap(),
            );
        }
    }
}

#[test]
fn sgd_step_matches_the_reference_for_one_and_many_tensors() {
    let hypers = [
        SgdStep {
            lr: 0.1,
            weight_decay: 0.0,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            grad_scale: 1.0,
        },
        SgdStep {
            lr: 0.05,
            weight_decay: 1e-3,
            momentum: 0.9,
            dampening: 0.1,
            nesterov: false,
            grad_scale: 0.5,
        },
        SgdStep {
            lr: 0.05,
            weight_decay: 1e-4,
            momentum: 0.9,
            dampening: 0.0,
            nesterov: true,
            grad_scale: 1.0,
        },
    ];
    for dtype in DTYPES {
        let mut r = rng(800);
        let shapes: [&[usize]; 3] = [&[5, 3], &[300], &[1]];
        let ps: Vec<Tensor> = shapes.iter().map(|d| random(&mut r, d, dtype)).collect();
        let gs: Vec<Tensor> = shapes.iter().map(|d| random(&mut r, d, dtype)).collect();
        let bs: Vec<Tensor> = shapes.iter().map(|d| random(&mut r, d, dtype)).collect();
        for h in &hypers {
            for with_buf in [false, true] {
                let tag = format!("sgd {h:?} buffer {with_buf} {dtype:?}");
                let (ep, eg, eb): (Vec<_>, Vec<_>, Vec<_>) = (
                    ps.iter().map(emu).collect(),
                    gs.iter().map(emu).collect(),
                    bs.iter().map(emu).collect(),
                );
                let items: Vec<SgdTensors> = (0..3)
                    .map(|i| SgdTensors {
                        param: &ep[i],
                        grad: &eg[i],
                        momentum: with_buf.then(|| &eb[i]),
                    })
                    .collect();
                let many = match dtype {
                    DType::F32 => sgd_step_many::<f32>(&items, h).unwrap(),
                    _ => sgd_step_many::<f64>(&items, h).unwrap(),
                };
                for i in 0..3 {
                    let (p, b) = CPU.sgd_step(&ps[i], &gs[i], with_buf.then(|| &bs[i]), h).unwrap();
                    let (one_p, one_b) = EMU.sgd_step(&ep[i], &eg[i], with_buf.then(|| &eb[i]), h).unwrap();
                    assert_close(&format!("{tag} param {i}"), &one_p, &p);
                    assert_close(&format!("{tag} buffer {i}"), &one_b, &b);
                    assert_close(&format!("{tag} multi-tensor param {i}"), &many[i].0, &p);
                    assert_close(&format!("{tag} multi-tensor buffer {i}"), &many[i].1, &b);
                }
            }
        }
    }
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
    let e = emu(&t);
    assert_eq!(e.device(), Device::CudaEmu);
    assert_eq!(e.to_vec::<f32>().unwrap(), t.to_vec::<f32>().unwrap());
    let err = e.as_slice::<f32>("conv3d").unwrap_err().to_string();
    assert!(err.contains("cuda-emu") && err.contains("to_device"), "{err}");
    let _ = Shape::new(&[1]).unwrap();
}

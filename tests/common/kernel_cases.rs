//! Kernel-vs-reference comparisons shared by the emulated device (tests/cuda_emulation.rs)
//! and a real GPU (tests/gpu_vs_cpu.rs): every `CudaBackend` op against `CpuReference` on
//! small ragged shapes (no size a multiple of a tile, batch 1 and 3, stride and padding
//! variants), forward and backward, f32 and f64. Tolerance: |a - b| <= tol * (1 + |b|) with
//! tol 2e-5 (f32) / 1e-11 (f64); dropout masks and argmax indices must match exactly.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::backend::cpu::reference::CpuReference;
use stsm_engine::backend::cuda::ops::optim::{sgd_step_many, SgdTensors};
use stsm_engine::backend::cuda::CudaBackend;
use stsm_engine::backend::{Conv3dOps, DenseOps, ElementwiseOps, LayoutOps, LossOps, OptimOps, PoolOps, TemporalOps};
use stsm_engine::ops::{Conv3dGeometry, Conv3dOptions, Pool3dGeometry, Pool3dOptions};
use stsm_engine::optim::SgdStep;
use stsm_engine::tensor::{DType, Device, Tensor};

const CPU: CpuReference = CpuReference;
const DEV: CudaBackend = CudaBackend;
const DTYPES: [DType; 2] = [DType::F32, DType::F64];

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn random(r: &mut ChaCha8Rng, dims: &[usize], dtype: DType) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n).map(|_| r.gen_range(-1.0..1.0)).collect();
    Tensor::from_vec(dims, v).unwrap().to_dtype(dtype).unwrap()
}

pub fn on(dev: Device, t: &Tensor) -> Tensor {
    t.to_device(dev).unwrap()
}

fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-11,
        _ => 2e-5,
    }
}

/// Compares an emulated result with the reference: |a - b| <= tol * (1 + |b|) elementwise.
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_ne!(got.device(), Device::Cpu, "{what}: result left the device");
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let tol = tolerance(want.dtype());
    let (g, w) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a - b).abs() <= tol * (1.0 + b.abs()) || (a.is_nan() && b.is_nan());
        assert!(ok, "{what}: element {i} of {}: device {a}, reference {b}", got.shape());
    }
}

/// Calls `$runner!(case, …)` with every case of this file, the one list the emulator suite
/// (tests/cuda_emulation.rs) and the GPU suite (tests/gpu_vs_cpu.rs) both run: each case is a
/// `pub fn case(dev: Device)`.
// Only the emulator and GPU suites run the cases; the other test crates share tests/common/.
#[allow(unused_macros)]
macro_rules! every_case {
    ($runner:ident) => {
        $runner!(
            conv3d_forward_and_all_gradients_match_the_reference,
            pooling_forward_and_backward_match_the_reference,
            max_pool_ties_and_nan_follow_the_reference,
            elementwise_ops_match_the_reference,
            linear_forward_and_gradients_match_the_reference,
            temporal_ops_match_the_reference,
            loss_ops_match_the_reference,
            permute_matches_the_reference,
            sgd_step_matches_the_reference_for_one_and_many_tensors,
        );
    };
}
#[allow(unused_imports)] // As above: unused in the test crates that do not run the cases.
pub(crate) use every_case;

pub struct ConvCase {
    batch: usize,
    cin: usize,
    cout: usize,
    input: [usize; 3],
    kernel: [usize; 3],
    opts: Conv3dOptions,
}

/// Ragged on purpose: no size a multiple of the 32×32×16 GEMM tile, channels above one tile.
pub fn conv_cases() -> Vec<ConvCase> {
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

pub fn conv_tensors(c: &ConvCase, dtype: DType, seed: u64) -> (Tensor, Tensor, Tensor, Conv3dGeometry) {
    let mut r = rng(seed);
    let [t, h, w] = c.input;
    let [kt, kh, kw] = c.kernel;
    let x = random(&mut r, &[c.batch, c.cin, t, h, w], dtype);
    let wt = random(&mut r, &[c.cout, c.cin, kt, kh, kw], dtype);
    let b = random(&mut r, &[c.cout], dtype);
    let g = Conv3dGeometry::new(x.shape(), wt.shape(), &c.opts).unwrap();
    (x, wt, b, g)
}

pub fn conv3d_forward_and_all_gradients_match_the_reference(dev: Device) {
    for dtype in DTYPES {
        for (i, c) in conv_cases().iter().enumerate() {
            let (x, w, b, g) = conv_tensors(c, dtype, i as u64);
            let gy = random(&mut rng(100 + i as u64), &g.output_dims(), dtype);
            let (ex, ew, eb, egy) = (on(dev, &x), on(dev, &w), on(dev, &b), on(dev, &gy));
            let tag = |s: &str| format!("{s} case {i} {dtype:?}");
            assert_close(
                &tag("conv3d_fwd"),
                &DEV.conv3d_forward(&ex, &ew, Some(&eb), &g).unwrap(),
                &CPU.conv3d_forward(&x, &w, Some(&b), &g).unwrap(),
            );
            assert_close(
                &tag("conv3d_fwd no bias"),
                &DEV.conv3d_forward(&ex, &ew, None, &g).unwrap(),
                &CPU.conv3d_forward(&x, &w, None, &g).unwrap(),
            );
            assert_close(
                &tag("conv3d_xbwd"),
                &DEV.conv3d_x_backward(&egy, &ew, &g).unwrap(),
                &CPU.conv3d_x_backward(&gy, &w, &g).unwrap(),
            );
            assert_close(
                &tag("conv3d_wbwd"),
                &DEV.conv3d_weight_backward(&egy, &ex, &g).unwrap(),
                &CPU.conv3d_weight_backward(&gy, &x, &g).unwrap(),
            );
            assert_close(
                &tag("conv3d_bbwd"),
                &DEV.conv3d_bias_backward(&egy, &g).unwrap(),
                &CPU.conv3d_bias_backward(&gy, &g).unwrap(),
            );
        }
    }
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

pub fn pooling_forward_and_backward_match_the_reference(dev: Device) {
    for dtype in DTYPES {
        for (i, (batch, [t, h, w], opts)) in pool_cases().into_iter().enumerate() {
            let mut r = rng(200 + i as u64);
            let x = random(&mut r, &[batch, 2, t, h, w], dtype);
            let g = Pool3dGeometry::new("pool", x.shape(), &opts).unwrap();
            let gy = random(&mut r, &g.output_dims(), dtype);
            let (ex, egy) = (on(dev, &x), on(dev, &gy));
            let tag = |s: &str| format!("{s} case {i} {dtype:?}");
            let (y, arg) = CPU.max_pool3d_forward(&x, &g).unwrap();
            let (ey, earg) = DEV.max_pool3d_forward(&ex, &g).unwrap();
            assert_close(&tag("max_pool3d_fwd"), &ey, &y);
            assert_eq!(
                earg.to_vec::<u32>().unwrap(),
                arg.to_vec::<u32>().unwrap(),
                "{}",
                tag("argmax")
            );
            assert_close(
                &tag("max_pool3d_bwd"),
                &DEV.max_pool3d_backward(&egy, &earg, &g).unwrap(),
                &CPU.max_pool3d_backward(&gy, &arg, &g).unwrap(),
            );
            for pad in [false, true] {
                let tag = |s: &str| format!("{s} case {i} {dtype:?} count_include_pad {pad}");
                assert_close(
                    &tag("avg_pool3d_fwd"),
                    &DEV.avg_pool3d_forward(&ex, &g, pad).unwrap(),
                    &CPU.avg_pool3d_forward(&x, &g, pad).unwrap(),
                );
                assert_close(
                    &tag("avg_pool3d_bwd"),
                    &DEV.avg_pool3d_backward(&egy, &g, pad).unwrap(),
                    &CPU.avg_pool3d_backward(&gy, &g, pad).unwrap(),
                );
            }
        }
    }
}

pub fn max_pool_ties_and_nan_follow_the_reference(dev: Device) {
    // Ties pick the first maximum; a NaN wins its window.
    let mut v = vec![1.0f32; 2 * 4 * 4];
    v[5] = f32::NAN;
    let x = Tensor::from_vec(&[1, 1, 2, 4, 4], v).unwrap();
    let g = Pool3dGeometry::new("pool", x.shape(), &Pool3dOptions::new([2, 2, 2])).unwrap();
    let (y, arg) = CPU.max_pool3d_forward(&x, &g).unwrap();
    let (ey, earg) = DEV.max_pool3d_forward(&on(dev, &x), &g).unwrap();
    assert_close("max_pool3d ties/NaN", &ey, &y);
    assert_eq!(earg.to_vec::<u32>().unwrap(), arg.to_vec::<u32>().unwrap());
}

pub fn elementwise_ops_match_the_reference(dev: Device) {
    for dtype in DTYPES {
        let mut r = rng(300);
        let mut x = random(&mut r, &[3, 5, 67], dtype).to_f64_vec().unwrap();
        x[0] = 0.0; // relu's gradient at exactly 0 is 0
        let x = Tensor::from_vec(&[3, 5, 67], x).unwrap().to_dtype(dtype).unwrap();
        let y = random(&mut r, &[3, 5, 67], dtype);
        let (ex, ey) = (on(dev, &x), on(dev, &y));
        assert_close(
            "relu_fwd",
            &DEV.relu_forward(&ex).unwrap(),
            &CPU.relu_forward(&x).unwrap(),
        );
        assert_close(
            "relu_bwd",
            &DEV.relu_backward(&ey, &ex).unwrap(),
            &CPU.relu_backward(&y, &x).unwrap(),
        );
        assert_close("add", &DEV.add(&ex, &ey).unwrap(), &CPU.add(&x, &y).unwrap());
        assert_close("scale", &DEV.scale(&ex, -0.37).unwrap(), &CPU.scale(&x, -0.37).unwrap());
        for (p, seed) in [(0.0, 1), (0.3, 7), (0.5, u64::MAX), (1.0, 3)] {
            // The identical mask: compare exactly, not within a tolerance.
            let got = DEV.dropout(&ex, p, seed).unwrap().to_f64_vec().unwrap();
            let want = CPU.dropout(&x, p, seed).unwrap().to_f64_vec().unwrap();
            assert_eq!(got, want, "dropout p={p} seed={seed} {dtype:?}");
        }
    }
}

pub fn linear_forward_and_gradients_match_the_reference(dev: Device) {
    for dtype in DTYPES {
        for (i, (rows, ins, outs)) in [(3, 37, 5), (1, 70, 33), (35, 3, 2)].into_iter().enumerate() {
            let mut r = rng(400 + i as u64);
            let x = random(&mut r, &[rows, ins], dtype);
            let w = random(&mut r, &[outs, ins], dtype);
            let b = random(&mut r, &[outs], dtype);
            let gy = random(&mut r, &[rows, outs], dtype);
            let (ex, ew, eb, egy) = (on(dev, &x), on(dev, &w), on(dev, &b), on(dev, &gy));
            let tag = |s: &str| format!("{s} case {i} {dtype:?}");
            assert_close(
                &tag("linear_fwd"),
                &DEV.linear_forward(&ex, &ew, Some(&eb)).unwrap(),
                &CPU.linear_forward(&x, &w, Some(&b)).unwrap(),
            );
            assert_close(
                &tag("linear_fwd no bias"),
                &DEV.linear_forward(&ex, &ew, None).unwrap(),
                &CPU.linear_forward(&x, &w, None).unwrap(),
            );
            assert_close(
                &tag("linear_xbwd"),
                &DEV.linear_x_backward(&egy, &ew).unwrap(),
                &CPU.linear_x_backward(&gy, &w).unwrap(),
            );
            assert_close(
                &tag("linear_wbwd"),
                &DEV.linear_weight_backward(&egy, &ex).unwrap(),
                &CPU.linear_weight_backward(&gy, &x).unwrap(),
            );
            assert_close(
                &tag("linear_bbwd"),
                &DEV.linear_bias_backward(&egy).unwrap(),
                &CPU.linear_bias_backward(&gy).unwrap(),
            );
        }
    }
}

pub fn temporal_ops_match_the_reference(dev: Device) {
    for dtype in DTYPES {
        let mut r = rng(500);
        let x = random(&mut r, &[2, 3, 9], dtype);
        let (y, arg) = CPU.sliding_max_forward(&x, 4).unwrap();
        let (ey, earg) = DEV.sliding_max_forward(&on(dev, &x), 4).unwrap();
        assert_close("sliding_max_fwd", &ey, &y);
        assert_eq!(earg.to_vec::<u32>().unwrap(), arg.to_vec::<u32>().unwrap());
        let gy = random(&mut r, y.dims(), dtype);
        assert_close(
            "sliding_max_bwd",
            &DEV.sliding_max_backward(&on(dev, &gy), &earg, 9).unwrap(),
            &CPU.sliding_max_backward(&gy, &arg, 9).unwrap(),
        );
        let s = random(&mut r, &[3, 2, 7], dtype);
        for gamma in [0.5, 3.0] {
            let (f, p) = CPU.softmax_pool_forward(&s, gamma).unwrap();
            let (ef, ep) = DEV.softmax_pool_forward(&on(dev, &s), gamma).unwrap();
            assert_close("softmax_pool_fwd f", &ef, &f);
            assert_close("softmax_pool_fwd p", &ep, &p);
            let gf = random(&mut r, f.dims(), dtype);
            assert_close(
                "softmax_pool_bwd",
                &DEV.softmax_pool_backward(&on(dev, &gf), &on(dev, &s), &ef, &ep, gamma)
                    .unwrap(),
                &CPU.softmax_pool_backward(&gf, &s, &f, &p, gamma).unwrap(),
            );
        }
        // Fused scoring: rows longer than a block, so threads fold several windows and merge.
        let x = random(&mut r, &[2, 3, 600], dtype);
        for (k, gamma) in [(16, 1.0), (1, 0.0), (600, 2.0), (5, -1.5), (16, 1e30)] {
            assert_close(
                &format!("window_pool_fwd k {k} γ {gamma}"),
                &DEV.window_pool_forward(&on(dev, &x), k, gamma).unwrap(),
                &CPU.window_pool_forward(&x, k, gamma).unwrap(),
            );
        }
    }
}

pub fn loss_ops_match_the_reference(dev: Device) {
    for dtype in DTYPES {
        // 300 classes: more than one element per thread of a 256-thread block.
        for (rows, classes) in [(3, 7), (2, 300), (1, 1)] {
            let mut r = rng(600 + classes as u64);
            let x = random(&mut r, &[rows, classes], dtype);
            let gy = random(&mut r, &[rows, classes], dtype);
            let labels: Vec<usize> = (0..rows).map(|i| (i * 5 + 1) % classes).collect();
            let tag = |s: &str| format!("{s} ({rows}, {classes}) {dtype:?}");
            let y = CPU.log_softmax_forward(&x).unwrap();
            let ey = DEV.log_softmax_forward(&on(dev, &x)).unwrap();
            assert_close(&tag("log_softmax_fwd"), &ey, &y);
            assert_close(
                &tag("log_softmax_bwd"),
                &DEV.log_softmax_backward(&on(dev, &gy), &ey).unwrap(),
                &CPU.log_softmax_backward(&gy, &y).unwrap(),
            );
            assert_close(
                &tag("cross_entropy_fwd"),
                &DEV.cross_entropy_forward(&on(dev, &x), &labels).unwrap(),
                &CPU.cross_entropy_forward(&x, &labels).unwrap(),
            );
            assert_close(
                &tag("cross_entropy_bwd"),
                &DEV.cross_entropy_backward(0.7, &on(dev, &x), &labels).unwrap(),
                &CPU.cross_entropy_backward(0.7, &x, &labels).unwrap(),
            );
        }
    }
}

pub fn permute_matches_the_reference(dev: Device) {
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
                &DEV.permute(&on(dev, &x), &perm).unwrap(),
                &CPU.permute(&x, &perm).unwrap(),
            );
        }
    }
}

pub fn sgd_step_matches_the_reference_for_one_and_many_tensors(dev: Device) {
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
                    ps.iter().map(|t| on(dev, t)).collect(),
                    gs.iter().map(|t| on(dev, t)).collect(),
                    bs.iter().map(|t| on(dev, t)).collect(),
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
                    let (one_p, one_b) = DEV.sgd_step(&ep[i], &eg[i], with_buf.then(|| &eb[i]), h).unwrap();
                    assert_close(&format!("{tag} param {i}"), &one_p, &p);
                    assert_close(&format!("{tag} buffer {i}"), &one_b, &b);
                    assert_close(&format!("{tag} multi-tensor param {i}"), &many[i].0, &p);
                    assert_close(&format!("{tag} multi-tensor buffer {i}"), &many[i].1, &b);
                }
            }
        }
    }
}

//! The fast CPU backend against the reference loops on ragged shapes, forward and backward, and
//! its determinism: the same thread count gives identical bits. Every test runs at every ISA
//! level this CPU has (`at_every_level`) and prints a SKIP line for each level it lacks.

use std::io::Write;
use std::mem::MaybeUninit;
use std::sync::Mutex;

use stsm_engine::backend::cpu::fast::conv3d::{packed as packed_conv, packed_wgrad};
use stsm_engine::backend::cpu::fast::isa::{self, CpuIsa};
use stsm_engine::backend::cpu::fast::pool3d::{self, Kernels};
use stsm_engine::backend::cpu::fast::CpuFast;
use stsm_engine::backend::cpu::reference::CpuReference;
use stsm_engine::backend::{Conv3dOps, DenseOps, ElementwiseOps, OptimOps, PoolOps};
use stsm_engine::ops::{Conv3dGeometry, Conv3dOptions, Pool3dGeometry, Pool3dOptions};
use stsm_engine::tensor::Shape;
use stsm_engine::Tensor;

/// The ISA level is process-wide: the tests of this binary take turns to set it.
static LEVEL: Mutex<()> = Mutex::new(());

/// A line on stderr that the test harness does not capture (it captures `eprintln!`), so that
/// a skipped level shows in every run.
fn visible(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs `body` at every ISA level of `levels` that this CPU has, with that level active, and
/// prints `SKIP: no <feature> on this CPU` for the others.
fn at_levels(test: &str, levels: &[CpuIsa], body: impl Fn(CpuIsa)) {
    let _turn = LEVEL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for &level in levels {
        if !level.supported() {
            visible(&format!(
                "SKIP: no {} on this CPU ({test} at level {level})",
                level.needs()
            ));
            continue;
        }
        isa::set_active(level).unwrap();
        body(level);
    }
    isa::set_active(CpuIsa::best()).unwrap();
}

/// `at_levels` over all of them: portable, avx2, avx512.
fn at_every_level(test: &str, body: impl Fn(CpuIsa)) {
    at_levels(test, &CpuIsa::ALL, body)
}

/// Deterministic pseudo-random f32 values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tensor(dims: &[usize], seed: u64) -> Tensor {
    Tensor::from_vec(dims, values(dims.iter().product(), seed)).unwrap()
}

/// Max |a − b| relative to the scale of b.
fn assert_close(fast: &Tensor, reference: &Tensor, what: &str) {
    assert_eq!(fast.dims(), reference.dims(), "{what}: shapes");
    let (a, b) = (fast.to_f64_vec().unwrap(), reference.to_f64_vec().unwrap());
    let scale = b.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    let (i, worst) = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold((0, 0.0), |acc, (i, d)| if d > acc.1 { (i, d) } else { acc });
    assert!(
        worst <= 1e-5 * scale,
        "{what}: element {i}: fast {} vs reference {} (scale {scale})",
        a[i],
        b[i]
    );
}

/// (input, weight, stride, padding) of a conv3d case.
type ConvCase = ([usize; 5], [usize; 5], [usize; 3], [usize; 3]);

const CONV_CASES: [ConvCase; 12] = [
    // The packed f32 path: C·KH·KW = 360 rows per temporal tap (two K slabs each), blocks whose
    // first and last frames skip a tap, and 6 output channels (a partial 4-row tile).
    ([1, 40, 4, 6, 5], [6, 40, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
    // Temporal padding 2 (whole frames on the padding for two taps; the input gradient's
    // transposed convolution has temporal padding 0), wide rows cut at panel boundaries.
    ([2, 4, 3, 5, 30], [8, 4, 3, 3, 3], [1, 1, 1], [2, 0, 1]),
    ([2, 3, 5, 7, 6], [4, 3, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
    ([1, 5, 4, 9, 11], [7, 5, 2, 3, 1], [1, 2, 3], [1, 0, 2]),
    ([3, 2, 6, 6, 6], [3, 2, 1, 1, 1], [2, 2, 2], [0, 0, 0]),
    ([1, 17, 3, 5, 5], [9, 17, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
    // C3D's conv5 in small: output rows of 7, the shortest the padded-input B panels take (their
    // vectors cross rows and frames).
    ([2, 24, 2, 7, 7], [10, 24, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
    ([2, 3, 9, 23, 21], [5, 3, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
    // The direct path with padding 2 on H and W (outputs wider than the input), none on T.
    ([1, 2, 4, 5, 9], [7, 2, 3, 3, 3], [1, 1, 1], [0, 2, 2]),
    // The direct path for deep rows and few output channels (and its input gradient, with 10
    // input channels, too); a full tile and a one-vector last tile per row.
    ([2, 20, 3, 4, 19], [10, 20, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
    // Rows of 70 and 40 outputs: the AVX-512 direct tiles of four zmm vectors then one, and of
    // three; masked row tails in its weight gradient.
    ([1, 3, 3, 4, 70], [5, 3, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
    ([2, 2, 2, 3, 40], [6, 2, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
];

/// A deep layer at batch 1 (one block of positions, many output channels): the forward and the
/// weight gradient split output channels across threads; every split must give the reference.
#[test]
fn conv3d_forward_split_over_output_channels_matches_the_reference() {
    at_every_level(
        "conv3d_forward_split_over_output_channels_matches_the_reference",
        |level| {
            let (x, w, b) = (
                tensor(&[1, 6, 2, 3, 3], 21),
                tensor(&[70, 6, 3, 3, 3], 22),
                tensor(&[70], 23),
            );
            let g = Conv3dGeometry::new(
                x.shape(),
                w.shape(),
                &Conv3dOptions {
                    stride: [1; 3],
                    padding: [1; 3],
                },
            )
            .unwrap();
            let gy = tensor(&g.output_dims(), 24);
            let want = CpuReference.conv3d_forward(&x, &w, Some(&b), &g).unwrap();
            let want_gw = CpuReference.conv3d_weight_backward(&gy, &x, &g).unwrap();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let (got, got_gw) = pool.install(|| {
                    (
                        CpuFast.conv3d_forward(&x, &w, Some(&b), &g).unwrap(),
                        CpuFast.conv3d_weight_backward(&gy, &x, &g).unwrap(),
                    )
                });
                assert_close(&got, &want, &format!("{level}: {threads} threads"));
                assert_close(
                    &got_gw,
                    &want_gw,
                    &format!("{level}: {threads} threads, weight gradient"),
                );
            }
        },
    );
}

#[test]
fn conv3d_forward_and_backward_match_the_reference() {
    at_every_level("conv3d_forward_and_backward_match_the_reference", |level| {
        for (case, (xd, wd, stride, padding)) in CONV_CASES.iter().enumerate() {
            let (x, w, b) = (tensor(xd, 1), tensor(wd, 2), tensor(&[wd[0]], 3));
            let g = Conv3dGeometry::new(
                x.shape(),
                w.shape(),
                &Conv3dOptions {
                    stride: *stride,
                    padding: *padding,
                },
            )
            .unwrap();
            let gy = tensor(&g.output_dims(), 4);
            let (f, r) = (CpuFast, CpuReference);
            let name = |op: &str| format!("{level}: case {case} {op}");
            assert_close(
                &f.conv3d_forward(&x, &w, Some(&b), &g).unwrap(),
                &r.conv3d_forward(&x, &w, Some(&b), &g).unwrap(),
                &name("forward"),
            );
            assert_close(
                &f.conv3d_forward(&x, &w, None, &g).unwrap(),
                &r.conv3d_forward(&x, &w, None, &g).unwrap(),
                &name("forward, no bias"),
            );
            assert_close(
                &f.conv3d_x_backward(&gy, &w, &g).unwrap(),
                &r.conv3d_x_backward(&gy, &w, &g).unwrap(),
                &name("x grad"),
            );
            assert_close(
                &f.conv3d_weight_backward(&gy, &x, &g).unwrap(),
                &r.conv3d_weight_backward(&gy, &x, &g).unwrap(),
                &name("w grad"),
            );
            assert_close(
                &f.conv3d_bias_backward(&gy, &g).unwrap(),
                &r.conv3d_bias_backward(&gy, &g).unwrap(),
                &name("b grad"),
            );
        }
    });
}

/// The packed f32 kernels called directly on every case (the backend picks them only for
/// shapes where they pay off, larger than these): forward, stride-1 input gradient as the
/// flipped convolution, weight gradient. Without AVX2 they run the portable micro-kernel.
#[test]
fn packed_conv_kernels_match_the_reference() {
    at_every_level("packed_conv_kernels_match_the_reference", |level| {
        for (case, (xd, wd, stride, padding)) in CONV_CASES.iter().enumerate() {
            let (x, w, b) = (tensor(xd, 11), tensor(wd, 12), tensor(&[wd[0]], 13));
            let opts = Conv3dOptions {
                stride: *stride,
                padding: *padding,
            };
            let g = Conv3dGeometry::new(x.shape(), w.shape(), &opts).unwrap();
            let gy = tensor(&g.output_dims(), 14);
            let slice = |t: &Tensor| t.to_vec::<f32>().unwrap();
            let r = CpuReference;
            let y = packed_conv::forward(&slice(&x), &slice(&w), Some(&slice(&b)), &g);
            assert_close(
                &Tensor::from_vec(&g.output_dims(), y).unwrap(),
                &r.conv3d_forward(&x, &w, Some(&b), &g).unwrap(),
                &format!("{level}: case {case} packed forward"),
            );
            // Every element is summed in one order whatever the blocking: 1 and 3 threads agree
            // to the bit.
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    (
                        packed_conv::forward(&slice(&x), &slice(&w), Some(&slice(&b)), &g),
                        packed_wgrad::weight_backward(&slice(&gy), &slice(&x), &g),
                    )
                })
            };
            assert!(
                on(1) == on(3),
                "{level}: case {case}: packed results depend on the thread count"
            );
            let gw = packed_wgrad::weight_backward(&slice(&gy), &slice(&x), &g);
            assert_close(
                &Tensor::from_vec(wd, gw).unwrap(),
                &r.conv3d_weight_backward(&gy, &x, &g).unwrap(),
                &format!("{level}: case {case} packed w grad"),
            );
            match packed_conv::x_backward(&slice(&gy), &slice(&w), &g) {
                Some(gx) => assert_close(
                    &Tensor::from_vec(xd, gx).unwrap(),
                    &r.conv3d_x_backward(&gy, &w, &g).unwrap(),
                    &format!("{level}: case {case} packed x grad"),
                ),
                None => assert_ne!(
                    *stride, [1; 3],
                    "{level}: case {case}: stride 1 must have a packed x grad"
                ),
            }
        }
    });
}

/// The direct f32 kernels (stride 1, shallow rows or few output channels) called on every case
/// they apply to, forward, weight gradient and (where the flipped convolution applies) input
/// gradient: rows narrower than a tile, a partial last tile, channel counts that leave partial
/// groups, T and H padding taps skipped; and 1 and 3 threads give the same bits.
#[cfg(target_arch = "x86_64")]
#[test]
fn direct_conv_kernels_match_the_reference() {
    at_levels(
        "direct_conv_kernels_match_the_reference",
        &[CpuIsa::Avx2, CpuIsa::Avx512],
        |level| {
            use stsm_engine::backend::cpu::fast::conv3d::direct as direct_conv;
            let (mut applied, mut x_grads) = (0, 0);
            for (case, (xd, wd, stride, padding)) in CONV_CASES.iter().enumerate() {
                let (x, w, b) = (tensor(xd, 31), tensor(wd, 32), tensor(&[wd[0]], 33));
                let opts = Conv3dOptions {
                    stride: *stride,
                    padding: *padding,
                };
                let g = Conv3dGeometry::new(x.shape(), w.shape(), &opts).unwrap();
                if !direct_conv::applies(&g) {
                    continue;
                }
                applied += 1;
                let gy = tensor(&g.output_dims(), 34);
                let slice = |t: &Tensor| t.to_vec::<f32>().unwrap();
                let r = CpuReference;
                let y = direct_conv::forward(&slice(&x), &slice(&w), Some(&slice(&b)), &g);
                assert_close(
                    &Tensor::from_vec(&g.output_dims(), y).unwrap(),
                    &r.conv3d_forward(&x, &w, Some(&b), &g).unwrap(),
                    &format!("{level}: case {case} direct forward"),
                );
                let gw = direct_conv::weight_backward(&slice(&gy), &slice(&x), &g);
                assert_close(
                    &Tensor::from_vec(wd, gw).unwrap(),
                    &r.conv3d_weight_backward(&gy, &x, &g).unwrap(),
                    &format!("{level}: case {case} direct w grad"),
                );
                if let Some(gx) = direct_conv::x_backward(&slice(&gy), &slice(&w), &g) {
                    x_grads += 1;
                    assert_close(
                        &Tensor::from_vec(xd, gx).unwrap(),
                        &r.conv3d_x_backward(&gy, &w, &g).unwrap(),
                        &format!("{level}: case {case} direct x grad"),
                    );
                }
                let on = |threads: usize| {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    pool.install(|| {
                        (
                            direct_conv::forward(&slice(&x), &slice(&w), None, &g),
                            direct_conv::weight_backward(&slice(&gy), &slice(&x), &g),
                        )
                    })
                };
                assert!(
                    on(1) == on(3),
                    "{level}: case {case}: direct results depend on the thread count"
                );
            }
            assert!(applied >= 4, "only {applied} cases exercise the direct kernels");
            assert!(x_grads >= 2, "only {x_grads} cases exercise the direct input gradient");
        },
    );
}

#[test]
fn pooling_matches_the_reference() {
    at_every_level("pooling_matches_the_reference", |level| {
        let cases = [
            (
                [2, 3, 5, 7, 6],
                Pool3dOptions {
                    kernel: [3; 3],
                    stride: [2; 3],
                    padding: [1; 3],
                    ceil_mode: true,
                },
            ),
            ([1, 4, 16, 14, 14], Pool3dOptions::new([1, 2, 2])),
            // Tiling windows that leave a last row and column uncovered (floor mode).
            ([2, 3, 5, 7, 9], Pool3dOptions::new([2, 2, 2])),
            (
                [3, 5, 2, 7, 7],
                Pool3dOptions {
                    kernel: [2; 3],
                    stride: [2; 3],
                    padding: [0, 1, 1],
                    ceil_mode: false,
                },
            ),
        ];
        for (case, (xd, opts)) in cases.iter().enumerate() {
            // Ties (values rounded to a coarse grid) and NaNs exercise the argmax order.
            let mut values = tensor(xd, 7).to_vec::<f32>().unwrap();
            for (i, v) in values.iter_mut().enumerate() {
                *v = if i % 37 == 5 { f32::NAN } else { (*v * 2.0).round() };
            }
            let x = Tensor::from_vec(xd, values).unwrap();
            let g = Pool3dGeometry::new("test", x.shape(), opts).unwrap();
            let gy = tensor(&g.output_dims(), 8);
            let (f, r) = (CpuFast, CpuReference);
            let ((yf, af), (yr, ar)) = (
                f.max_pool3d_forward(&x, &g).unwrap(),
                r.max_pool3d_forward(&x, &g).unwrap(),
            );
            assert_close(&yf, &yr, &format!("{level}: case {case} max forward"));
            assert_eq!(
                af.to_vec::<u32>().unwrap(),
                ar.to_vec::<u32>().unwrap(),
                "{level}: case {case} argmax"
            );
            assert_close(
                &f.max_pool3d_backward(&gy, &af, &g).unwrap(),
                &r.max_pool3d_backward(&gy, &ar, &g).unwrap(),
                &format!("{level}: case {case} max backward"),
            );
            for cip in [true, false] {
                assert_close(
                    &f.avg_pool3d_forward(&x, &g, cip).unwrap(),
                    &r.avg_pool3d_forward(&x, &g, cip).unwrap(),
                    &format!("{level}: case {case} avg forward"),
                );
                assert_close(
                    &f.avg_pool3d_backward(&gy, &g, cip).unwrap(),
                    &r.avg_pool3d_backward(&gy, &g, cip).unwrap(),
                    &format!("{level}: case {case} avg backward"),
                );
            }
        }
    });
}

/// Values drawn from a small set with ties, signed zeros, infinities and NaN, so that the tie
/// rule (first in window order; -0 before +0 stays), NaN propagation and the argmax order are
/// all exercised.
fn awkward_values(n: usize, seed: u64) -> Vec<f32> {
    const POOL: [f32; 9] = [
        f32::NEG_INFINITY,
        -1.0,
        -0.0,
        0.0,
        0.5,
        1.0,
        1.0,
        f32::INFINITY,
        f32::NAN,
    ];
    values(n, seed)
        .iter()
        .map(|v| POOL[((v + 1.0) * 0.5 * POOL.len() as f32) as usize % POOL.len()])
        .collect()
}

/// Every tiling-window kernel this CPU has (portable everywhere, AVX2 where present), called
/// directly, against the reference loops: forward values bit for bit, argmax exactly, and the
/// backward's gradient exactly. Widths give 1..=19 windows per row so that every ragged tail of
/// an 8-lane vector occurs, odd widths and heights leave uncovered rows and columns, and the
/// kernels cover one to three window rows in t and h, over several planes (batch 2).
/// A buffer filled with `v`, for the tiling kernels' write-only outputs.
fn filled<T: Copy>(n: usize, v: T) -> Vec<MaybeUninit<T>> {
    vec![MaybeUninit::new(v); n]
}

/// The contents of a buffer made by `filled`.
fn contents<T: Copy>(b: &[MaybeUninit<T>]) -> Vec<T> {
    // Safety: `filled` initialised every element; kernels only overwrite them.
    b.iter().map(|v| unsafe { v.assume_init() }).collect()
}

/// The pooling kernel sets this CPU has; a SKIP line for each it lacks.
fn available_kernels(test: &str) -> Vec<Kernels> {
    let (have, lack): (Vec<Kernels>, Vec<Kernels>) = Kernels::ALL.into_iter().partition(|k| k.available());
    for k in lack {
        visible(&format!(
            "SKIP: no {} on this CPU ({test}, {k:?} kernels)",
            k.level().needs()
        ));
    }
    have
}

#[test]
fn max_pool_tiling_kernels_match_the_reference() {
    let kernels = available_kernels("max_pool_tiling_kernels_match_the_reference");
    let mut cases = 0;
    for kernel in [
        [1, 2, 2],
        [2, 2, 2],
        [3, 2, 2],
        [1, 1, 2],
        [2, 3, 2],
        [1, 2, 3],
        [1, 2, 1],
    ] {
        for width in (2..=39).step_by(3).chain([16, 17, 32]) {
            let height = kernel[1] * 2 + width % 2;
            let xd = [2, 3, kernel[0] + width % 3, height, width.max(kernel[2])];
            let g = Pool3dGeometry::new("test", &Shape::new(&xd).unwrap(), &Pool3dOptions::new(kernel)).unwrap();
            assert!(pool3d::tiles(&g));
            let n: usize = xd.iter().product();
            let x = if width % 2 == 0 {
                awkward_values(n, width as u64)
            } else {
                values(n, width as u64)
            };
            let (y_ref, arg_ref) = stsm_engine::backend::cpu::reference::pool3d::max_forward(&x, &g);
            let gy = values(y_ref.len(), 99);
            let gx_ref = stsm_engine::backend::cpu::reference::pool3d::max_backward(&gy, &arg_ref, &g);
            for &k in &kernels {
                let what = format!("{k:?} kernel {kernel:?} input {xd:?}");
                // Garbage in the outputs first: the tiling kernels must write every element.
                let (mut y, mut arg) = (filled(y_ref.len(), 7.0f32), filled(y_ref.len(), 7u32));
                pool3d::max_forward_with(k, &x, &mut y, &mut arg, &g);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&contents(&y)), bits(&y_ref), "{what}: values");
                assert_eq!(contents(&arg), arg_ref, "{what}: argmax");
                let mut gx = filled(n, f32::NAN);
                pool3d::max_backward_tiles_with(k, &gy, &arg_ref, &mut gx, &g);
                assert_eq!(contents(&gx), gx_ref, "{what}: gradient");
                cases += 1;
            }
        }
    }
    assert!(cases >= 7 * 16, "every case ran with at least the portable kernels");
}

/// Hand-worked windows of width 2 (kernel 1×2×2 over a 2×6 plane: three windows), for every
/// kernel set this CPU has: the first of equal maxima wins (-0 before +0), a NaN anywhere wins,
/// the first NaN of several wins, and the backward routes each gradient to that element only.
#[test]
fn max_pool_tiling_kernels_hand_worked_window() {
    let nan = f32::NAN;
    #[rustfmt::skip]
    let x = [
        -0.0, 0.0,   1.0, nan,   2.0, 5.0,
        0.0,  -1.0,  nan, nan,   5.0, 5.0,
    ];
    let g = Pool3dGeometry::new(
        "test",
        &Shape::new(&[1, 1, 1, 2, 6]).unwrap(),
        &Pool3dOptions::new([1, 2, 2]),
    )
    .unwrap();
    for k in available_kernels("max_pool_tiling_kernels_hand_worked_window") {
        let (mut y, mut arg) = (filled(3, 0.0f32), filled(3, 0u32));
        pool3d::max_forward_with(k, &x, &mut y, &mut arg, &g);
        let (y, arg) = (contents(&y), contents(&arg));
        assert_eq!(
            y[0].to_bits(),
            (-0.0f32).to_bits(),
            "{k:?}: -0 comes first and ties win nothing"
        );
        assert!(y[1].is_nan(), "{k:?}: NaN propagates");
        assert_eq!(y[2], 5.0, "{k:?}");
        assert_eq!(arg, [0, 3, 5], "{k:?}: first maximum / first NaN in (h, w) order");
        let mut gx = filled(12, nan);
        pool3d::max_backward_tiles_with(k, &[10.0, 20.0, 30.0], &arg, &mut gx, &g);
        let gx = contents(&gx);
        #[rustfmt::skip]
        let want = [
            10.0, 0.0,   0.0, 20.0,   0.0, 30.0,
            0.0,  0.0,   0.0, 0.0,    0.0, 0.0,
        ];
        assert_eq!(gx, want, "{k:?}: gradient");
    }
}

#[test]
fn linear_and_elementwise_match_the_reference() {
    for (rows, ins, outs) in [(1, 7, 5), (3, 33, 17), (8, 576, 256)] {
        let (x, w, b, gy) = (
            tensor(&[rows, ins], 1),
            tensor(&[outs, ins], 2),
            tensor(&[outs], 3),
            tensor(&[rows, outs], 4),
        );
        let (f, r) = (CpuFast, CpuReference);
        let name = |op: &str| format!("linear {rows}x{ins}->{outs} {op}");
        assert_close(
            &f.linear_forward(&x, &w, Some(&b)).unwrap(),
            &r.linear_forward(&x, &w, Some(&b)).unwrap(),
            &name("forward"),
        );
        assert_close(
            &f.linear_forward(&x, &w, None).unwrap(),
            &r.linear_forward(&x, &w, None).unwrap(),
            &name("forward, no bias"),
        );
        assert_close(
            &f.linear_x_backward(&gy, &w).unwrap(),
            &r.linear_x_backward(&gy, &w).unwrap(),
            &name("x grad"),
        );
        assert_close(
            &f.linear_weight_backward(&gy, &x).unwrap(),
            &r.linear_weight_backward(&gy, &x).unwrap(),
            &name("w grad"),
        );
    }
    let (x, gy) = (tensor(&[3, 1001], 5), tensor(&[3, 1001], 6));
    let (f, r) = (CpuFast, CpuReference);
    assert_close(&f.relu_forward(&x).unwrap(), &r.relu_forward(&x).unwrap(), "relu");
    assert_close(
        &f.relu_backward(&gy, &x).unwrap(),
        &r.relu_backward(&gy, &x).unwrap(),
        "relu backward",
    );
    assert_close(&f.add(&x, &gy).unwrap(), &r.add(&x, &gy).unwrap(), "add");
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn same_thread_count_gives_identical_bits() {
    at_every_level("same_thread_count_gives_identical_bits", |level| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let run = || {
            pool.install(|| {
                let (xd, wd) = ([2, 16, 6, 13, 13], [24, 16, 3, 3, 3]);
                let (x, w) = (tensor(&xd, 11), tensor(&wd, 12));
                let g = Conv3dGeometry::new(
                    x.shape(),
                    w.shape(),
                    &Conv3dOptions {
                        stride: [1; 3],
                        padding: [1; 3],
                    },
                )
                .unwrap();
                let gy = tensor(&g.output_dims(), 13);
                let f = CpuFast;
                [
                    bits(&f.conv3d_forward(&x, &w, None, &g).unwrap()),
                    bits(&f.conv3d_x_backward(&gy, &w, &g).unwrap()),
                    bits(&f.conv3d_weight_backward(&gy, &x, &g).unwrap()),
                    bits(&f.conv3d_bias_backward(&gy, &g).unwrap()),
                ]
            })
        };
        let (a, b) = (run(), run());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(x == y, "{level}: output {i} differs between two runs with 2 threads");
        }
    });
}

/// The fast SGD step splits the parameters over threads; each element's update is the
/// reference's formula on that element, so the bits match the reference for any thread count,
/// with and without momentum and Nesterov, on a size spanning several chunks plus a ragged one.
#[test]
fn sgd_step_matches_the_reference_bit_for_bit() {
    at_every_level("sgd_step_matches_the_reference_bit_for_bit", |level| {
        use stsm_engine::optim::SgdStep;
        let dims = [3, 70_001];
        let (p, g, m) = (tensor(&dims, 41), tensor(&dims, 42), tensor(&dims, 43));
        for (momentum, nesterov) in [(0.0, false), (0.9, false), (0.9, true)] {
            let h = SgdStep {
                lr: 0.01,
                weight_decay: 5e-4,
                momentum,
                dampening: 0.1,
                nesterov,
                grad_scale: 0.125,
            };
            for buf in [None, Some(&m)] {
                let want = CpuReference.sgd_step(&p, &g, buf, &h).unwrap();
                for threads in [1, 3] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let got = pool.install(|| CpuFast.sgd_step(&p, &g, buf, &h)).unwrap();
                    let bits = |t: &Tensor| {
                        t.to_vec::<f32>()
                            .unwrap()
                            .iter()
                            .map(|v| v.to_bits())
                            .collect::<Vec<_>>()
                    };
                    let what = format!(
                        "{level}: momentum {momentum}, nesterov {nesterov}, buffer {}, {threads} threads",
                        buf.is_some()
                    );
                    assert!(bits(&got.0) == bits(&want.0), "{what}: parameters differ");
                    assert!(bits(&got.1) == bits(&want.1), "{what}: momentum buffers differ");
                }
            }
        }
        let short = tensor(&[5], 44);
        let err = CpuFast.sgd_step(
            &p,
            &short,
            None,
            &SgdStep {
                lr: 0.1,
                weight_decay: 0.0,
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
                grad_scale: 1.0,
            },
        );
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains("sgd_step") && msg.contains("grad"), "{msg}");
    });
}

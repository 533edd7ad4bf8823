//! The bf16 tensor-core path against the CPU, shared by the emulated device
//! (tests/conv3d_bf16_emulated.rs) and a real GPU: conversions bit for bit, layouts exactly,
//! and the three convolution kernels against a reference that takes the same bf16-rounded
//! inputs and accumulates in f64. fp32 stores: ‖out − ref‖ / ‖ref‖ <= `rel_tol` (1e-5 on the
//! emulator, whose mma adds in a fixed fp32 order; 1e-4 on a GPU). bf16 stores: every element
//! the reference rounded to bf16 or 1 ulp from it, at most 1 % of them not equal.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::backend::cpu::reference::CpuReference;
use stsm_engine::backend::cuda::ops::bf16::{self as conv_bf16, padded_channels};
use stsm_engine::backend::cuda::ops::conv3d_bf16::{self as k, Plan, Tile};
use stsm_engine::backend::Conv3dOps;
use stsm_engine::ops::{Conv3dGeometry, Conv3dOptions};
use stsm_engine::tensor::bf16::{bits_from_f32, from_f32, ulps_apart, CANONICAL_NAN};
use stsm_engine::tensor::{DType, Device, Tensor};

const CPU: CpuReference = CpuReference;

pub fn on(dev: Device, t: &Tensor) -> Tensor {
    t.to_device(dev).unwrap()
}

/// f32 values that are exactly bf16 (uniform in [-1, 1) rounded), as an f32 tensor.
fn bf16_exact(r: &mut ChaCha8Rng, dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| from_f32(r.gen_range(-1.0f32..1.0)).to_f32()).collect();
    Tensor::from_vec(dims, v).unwrap()
}

/// Inputs whose f32 bits cover what f32 -> bf16 must get right: ties both ways, subnormals,
/// infinities, overflow to infinity, NaNs, plus random patterns.
pub fn conversion_edge_values() -> Vec<f32> {
    let mut bits: Vec<u32> = vec![
        0x0000_0000,
        0x8000_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x3F80_8000,
        0x3F81_8000,
        0xBF81_8000,
        0xBF80_8000,
        0x3F80_8001,
        0x3F81_7FFF,
        0x0000_0001,
        0x0000_8000,
        0x0001_8000,
        0x0001_0000,
        0x807F_FFFF,
        0x7F7F_0000,
        0x7F7F_7FFF,
        0x7F7F_8000,
        0x7F7F_FFFF,
        0xFF7F_FFFF,
        0x7FC0_0000,
        0x7F80_0001,
        0xFFFF_FFFF,
    ];
    let mut u = 0x9E37_79B9u32;
    for _ in 0..4000 {
        u ^= u << 13;
        u ^= u >> 17;
        u ^= u << 5;
        bits.push(u);
    }
    bits.into_iter().map(f32::from_bits).collect()
}

pub fn bf16_conversions_match_the_cpu_bit_for_bit(dev: Device) {
    let v = conversion_edge_values();
    let x = Tensor::from_vec(&[v.len()], v.clone()).unwrap();
    let b = conv_bf16::f32_to_bf16(&on(dev, &x)).unwrap();
    assert_eq!(b.dtype(), DType::BF16);
    let got = b.to_vec::<half::bf16>().unwrap();
    for (i, (&f, g)) in v.iter().zip(&got).enumerate() {
        let want = bits_from_f32(f);
        assert_eq!(
            g.to_bits(),
            want,
            "element {i}: {:#010x} -> {:#06x}, CPU {want:#06x}",
            f.to_bits(),
            g.to_bits()
        );
        if f.is_nan() {
            assert_eq!(g.to_bits(), CANONICAL_NAN);
        }
    }
    // Back to f32: exact, and the same as the CPU's widening.
    let back = conv_bf16::bf16_to_f32(&b).unwrap().to_vec::<f32>().unwrap();
    for (i, (g, w)) in back.iter().zip(&got).enumerate() {
        assert_eq!(g.to_bits(), w.to_f32().to_bits(), "widening element {i}");
    }
}

/// (N, C, S...) -> (N, S..., Cp) on the CPU, pad channels 0: what the layout kernels must make.
pub fn channels_last(x: &Tensor) -> Vec<u16> {
    let d = x.dims();
    let (n, ch, inner) = (d[0], d[1], d[2..].iter().product::<usize>());
    let cp = padded_channels(ch);
    let v = x.to_vec::<f32>().unwrap();
    let mut out = vec![0u16; n * inner * cp];
    for a in 0..n {
        for c in 0..ch {
            for i in 0..inner {
                out[(a * inner + i) * cp + c] = bits_from_f32(v[(a * ch + c) * inner + i]);
            }
        }
    }
    out
}

pub fn bits(t: &Tensor) -> Vec<u16> {
    t.to_vec::<half::bf16>().unwrap().iter().map(|b| b.to_bits()).collect()
}

pub fn bf16_layouts_match_the_cpu(dev: Device) {
    let mut r = ChaCha8Rng::seed_from_u64(5);
    // Values that are not bf16-exact, so the rounding inside the layout kernels shows.
    let x: Vec<f32> = (0..2 * 11 * 3 * 5 * 4).map(|_| r.gen_range(-2.0f32..2.0)).collect();
    let x = Tensor::from_vec(&[2, 11, 3, 5, 4], x).unwrap();
    let xd = conv_bf16::to_channels_last(&on(dev, &x)).unwrap();
    assert_eq!(xd.dims(), &[2, 3, 5, 4, 16]);
    assert_eq!(bits(&xd), channels_last(&x), "to_channels_last");
    let back = conv_bf16::from_channels_last(&xd, 11).unwrap();
    assert_eq!(back.dims(), x.dims());
    let rounded: Vec<f32> = x
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|&v| from_f32(v).to_f32())
        .collect();
    assert_eq!(back.to_vec::<f32>().unwrap(), rounded, "from_channels_last");

    // Weights (O, C, KT, KH, KW) = (5, 3, 3, 2, 1): forward (O, taps, Cp), input gradient
    // (C, taps, Op) with Wx[c][tap][o] = W[o][c][tap].
    let w: Vec<f32> = (0..5 * 3 * 6).map(|_| r.gen_range(-1.0f32..1.0)).collect();
    let wt = Tensor::from_vec(&[5, 3, 3, 2, 1], w.clone()).unwrap();
    let wf = conv_bf16::forward_weights(&on(dev, &wt)).unwrap();
    assert_eq!(wf.dims(), &[5, 6, 8]);
    assert_eq!(
        bits(&wf),
        channels_last(&wt.reshape(&[5, 3, 6]).unwrap()),
        "forward weights"
    );
    let wx = conv_bf16::x_backward_weights(&on(dev, &wt)).unwrap();
    assert_eq!(wx.dims(), &[3, 6, 8]);
    assert_eq!(bits(&wx), x_backward_weights(&wt), "input-gradient weights");
}

/// (O, C, KT, KH, KW) f32 -> (C, taps, Op) bf16 bits on the CPU: Wx[c][tap][o] = W[o][c][tap].
pub fn x_backward_weights(w: &Tensor) -> Vec<u16> {
    let d = w.dims();
    let (o_n, c_n, taps) = (d[0], d[1], d[2] * d[3] * d[4]);
    let op = padded_channels(o_n);
    let v = w.to_vec::<f32>().unwrap();
    let mut out = vec![0u16; c_n * taps * op];
    for o in 0..o_n {
        for c in 0..c_n {
            for tap in 0..taps {
                out[(c * taps + tap) * op + o] = bits_from_f32(v[(o * c_n + c) * taps + tap]);
            }
        }
    }
    out
}

/// A bf16 CPU tensor from bits.
pub fn bf16_tensor(dims: &[usize], bits: &[u16]) -> Tensor {
    Tensor::from_vec(dims, bits.iter().map(|&b| half::bf16::from_bits(b)).collect()).unwrap()
}

pub struct ConvCase {
    pub name: &'static str,
    pub batch: usize,
    pub cin: usize,
    pub cout: usize,
    pub input: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    /// Plans to run besides the launcher's own choice (every tile and split-K somewhere).
    pub plans: Vec<Plan>,
}

#[allow(clippy::too_many_arguments)] // one line per case reads best as a table
fn case(
    name: &'static str,
    batch: usize,
    (cin, cout): (usize, usize),
    input: [usize; 3],
    kernel: [usize; 3],
    (stride, padding): ([usize; 3], [usize; 3]),
    plans: Vec<Plan>,
) -> ConvCase {
    ConvCase {
        name,
        batch,
        cin,
        cout,
        input,
        kernel,
        stride,
        padding,
        plans,
    }
}

fn p(tile: Tile, splits: usize) -> Plan {
    Plan { tile, splits }
}

/// Ragged shapes: channels not multiples of 8, odd sizes, stride 2, padding 0/1/2, batch 1
/// and 3. Kept small: the emulator runs every lane of every warp on the CPU.
pub fn ragged_cases() -> Vec<ConvCase> {
    vec![
        case(
            "conv1a-like C=3",
            1,
            (3, 5),
            [3, 5, 7],
            [3, 3, 3],
            ([1; 3], [1; 3]),
            vec![p(Tile::T128x64, 2)],
        ),
        case(
            "stride 2, batch 3",
            3,
            (10, 12),
            [3, 5, 5],
            [3, 3, 3],
            ([2, 2, 2], [1, 1, 1]),
            vec![p(Tile::T64x64, 3)],
        ),
        case(
            "padding 0 and 2",
            1,
            (13, 9),
            [4, 5, 3],
            [2, 3, 1],
            ([1, 1, 1], [0, 2, 0]),
            vec![p(Tile::T128x128, 1)],
        ),
        case(
            "mixed strides",
            3,
            (6, 17),
            [5, 4, 7],
            [1, 3, 3],
            ([1, 2, 1], [0, 1, 2]),
            vec![p(Tile::T64x64, 1)],
        ),
    ]
}

/// Every C3D layer's channel counts (conv1a 3→64 … conv5b 512→512, 3×3×3, padding 1) at a
/// small spatial size.
pub fn c3d_channel_cases() -> Vec<ConvCase> {
    let c3d = |name, ch, input| case(name, 1, ch, input, [3; 3], ([1; 3], [1; 3]), vec![]);
    vec![
        c3d("C3D conv1a", (3, 64), [2, 3, 3]),
        c3d("C3D conv2a", (64, 128), [2, 2, 3]),
        c3d("C3D conv3a", (128, 256), [1, 2, 2]),
        c3d("C3D conv3b", (256, 256), [1, 2, 2]),
        c3d("C3D conv4a", (256, 512), [1, 2, 1]),
        c3d("C3D conv4b/5a/5b", (512, 512), [1, 1, 2]),
    ]
}

pub struct Prepared {
    pub x: Tensor,
    pub w: Tensor,
    pub b: Tensor,
    pub gy: Tensor,
    pub g: Conv3dGeometry,
}

/// f32 inputs that are exactly bf16 values (so the reference sees what the kernels see).
pub fn prepare(c: &ConvCase, seed: u64) -> Prepared {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let [t, h, w] = c.input;
    let [kt, kh, kw] = c.kernel;
    let x = bf16_exact(&mut r, &[c.batch, c.cin, t, h, w]);
    let wt = bf16_exact(&mut r, &[c.cout, c.cin, kt, kh, kw]);
    let b: Vec<f32> = (0..c.cout).map(|_| r.gen_range(-0.5f32..0.5)).collect();
    let b = Tensor::from_vec(&[c.cout], b).unwrap();
    let opts = Conv3dOptions {
        stride: c.stride,
        padding: c.padding,
    };
    let g = Conv3dGeometry::new(x.shape(), wt.shape(), &opts).unwrap();
    let gy = bf16_exact(&mut r, &g.output_dims());
    Prepared { x, w: wt, b, gy, g }
}

pub fn f64s(t: &Tensor) -> Tensor {
    t.to_dtype(DType::F64).unwrap()
}

/// (N, C, S...) f64 values -> (N, S..., C) order.
pub fn to_nlast(v: &[f64], dims: &[usize]) -> Vec<f64> {
    let (n, ch, inner) = (dims[0], dims[1], dims[2..].iter().product::<usize>());
    let mut out = vec![0.0; v.len()];
    for a in 0..n {
        for c in 0..ch {
            for i in 0..inner {
                out[(a * inner + i) * ch + c] = v[(a * ch + c) * inner + i];
            }
        }
    }
    out
}

/// ‖got − want‖ / ‖want‖ <= tol.
pub fn assert_rel_norm(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let diff: f64 = got.iter().zip(want).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    let norm: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
    assert!(
        norm > 0.0,
        "{what}: the reference is all zero; the check proves nothing"
    );
    let rel = diff / norm;
    assert!(rel <= tol, "{what}: ‖out − ref‖/‖ref‖ = {rel:.3e} > {tol:.0e}");
}

/// Every bf16 element equals the reference rounded to bf16 or is 1 ulp from it, and at most
/// 1 % differ. `got` is (rows, cols_p) channels-last bf16 bits; `want` (rows, cols) f64.
pub fn assert_bf16_rounding(what: &str, got: &[u16], want: &[f64], cols: usize) {
    let cols_p = padded_channels(cols);
    assert_eq!(got.len() / cols_p, want.len() / cols, "{what}: rows");
    let mut differ = 0usize;
    for (row, chunk) in got.chunks(cols_p).enumerate() {
        for (c, &bits) in chunk.iter().enumerate() {
            if c >= cols {
                assert_eq!(bits, 0, "{what}: pad channel {c} of row {row} is not 0");
                continue;
            }
            let r = want[row * cols + c];
            let (g, w) = (half::bf16::from_bits(bits), from_f32(r as f32));
            let apart = ulps_apart(g, w);
            assert!(
                apart <= 1,
                "{what}: row {row} channel {c}: {} vs reference {r} ({apart} ulps)",
                g.to_f32()
            );
            differ += (apart == 1) as usize;
        }
    }
    let total = want.len();
    assert!(
        differ * 100 <= total,
        "{what}: {differ} of {total} elements 1 ulp off (more than 1 %)"
    );
}

/// The three kernels on one case with one plan (None: the launcher's choice).
pub fn check_case(dev: Device, c: &ConvCase, plan: Option<Plan>, rel_tol: f64, seed: u64) {
    let Prepared { x, w, b, gy, g } = prepare(c, seed);
    let tag = |s: &str| format!("{s} [{} {plan:?}]", c.name);
    let (x64, w64, b64, gy64) = (f64s(&x), f64s(&w), f64s(&b), f64s(&gy));
    let y_ref: Vec<f64> = CPU
        .conv3d_forward(&x64, &w64, Some(&b64), &g)
        .unwrap()
        .to_f64_vec()
        .unwrap()
        .iter()
        .map(|v| v.max(0.0))
        .collect();
    let gx_ref = CPU.conv3d_x_backward(&gy64, &w64, &g).unwrap().to_f64_vec().unwrap();
    let gw_ref = CPU
        .conv3d_weight_backward(&gy64, &x64, &g)
        .unwrap()
        .to_f64_vec()
        .unwrap();

    let xd = conv_bf16::to_channels_last(&on(dev, &x)).unwrap();
    let gyd = conv_bf16::to_channels_last(&on(dev, &gy)).unwrap();
    let wf = conv_bf16::forward_weights(&on(dev, &w)).unwrap();
    let wx = conv_bf16::x_backward_weights(&on(dev, &w)).unwrap();
    let bd = on(dev, &b);

    let (rows, cols, steps) = k::forward_gemm(&g);
    let fwd_plan = plan.unwrap_or_else(|| k::plan(rows, cols, steps));
    let y = k::forward_with(&xd, &wf, Some(&bd), &g, true, true, fwd_plan).unwrap();
    let y_ref_nl = to_nlast(&y_ref, &g.output_dims());
    assert_rel_norm(
        &tag("conv3d_fwd_bf16 fp32 store"),
        &y.f32.unwrap().to_f64_vec().unwrap(),
        &y_ref_nl,
        rel_tol,
    );
    assert_bf16_rounding(&tag("conv3d_fwd_bf16 bf16 store"), &bits(&y.bf16), &y_ref_nl, c.cout);

    let (rows, cols, steps) = k::x_backward_gemm(&g);
    let x_plan = plan.unwrap_or_else(|| k::plan(rows, cols, steps));
    let gx = k::x_backward_with(&gyd, &wx, &g, true, x_plan).unwrap();
    let gx_ref_nl = to_nlast(&gx_ref, &g.input_dims());
    assert_rel_norm(
        &tag("conv3d_xbwd_bf16 fp32 store"),
        &gx.f32.unwrap().to_f64_vec().unwrap(),
        &gx_ref_nl,
        rel_tol,
    );
    assert_bf16_rounding(&tag("conv3d_xbwd_bf16 bf16 store"), &bits(&gx.bf16), &gx_ref_nl, c.cin);

    let (rows, cols, steps) = k::weight_backward_gemm(&g);
    let w_plan = plan.unwrap_or_else(|| k::plan(rows, cols, steps));
    let gw = k::weight_backward_with(&gyd, &xd, &g, w_plan).unwrap();
    assert_eq!(gw.dims(), &g.weight_dims());
    assert_rel_norm(&tag("conv3d_wbwd_bf16"), &gw.to_f64_vec().unwrap(), &gw_ref, rel_tol);
}

/// Each case with the launcher's plan and with its extra plans.
pub fn conv_cases_match_the_reference(dev: Device, cases: &[ConvCase], rel_tol: f64) {
    for (i, c) in cases.iter().enumerate() {
        check_case(dev, c, None, rel_tol, 40 + i as u64);
        for plan in &c.plans {
            check_case(dev, c, Some(*plan), rel_tol, 40 + i as u64);
        }
    }
}

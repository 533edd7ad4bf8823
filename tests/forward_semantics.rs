//! Hand-worked forward cases: the semantics finite differences cannot see (cross-correlation
//! vs convolution, where windows sit, what padding is worth, which divisor an average uses,
//! dropout's scaling, numerically stable losses and pooling) and the error messages.
//! Every expected number is worked out by hand in the comment beside it.

mod common;

use common::*;
use stsm_engine::ops::{self, Conv3dOptions, Pool3dOptions};
use stsm_engine::{Tape, Tensor};

fn conv(x: &Tensor, w: &Tensor, b: Option<&Tensor>, stride: [usize; 3], padding: [usize; 3]) -> Tensor {
    ops::conv3d::conv3d(x, w, b, &Conv3dOptions { stride, padding }).unwrap()
}

fn pool(kernel: [usize; 3], stride: [usize; 3], padding: [usize; 3], ceil_mode: bool) -> Pool3dOptions {
    Pool3dOptions {
        kernel,
        stride,
        padding,
        ceil_mode,
    }
}

/// `data` laid along axis `axis` of a (1, 1, T, H, W) tensor, the other two axes of size 1.
fn along(axis: usize, data: &[f64]) -> Tensor {
    let mut dims = [1, 1, 1, 1, 1];
    dims[2 + axis] = data.len();
    t64(&dims, data)
}

/// Pool options acting along `axis` only (kernel/stride 1, no padding elsewhere).
fn pool_along(axis: usize, k: usize, s: usize, p: usize, ceil_mode: bool) -> Pool3dOptions {
    let (mut kernel, mut stride, mut padding) = ([1; 3], [1; 3], [0; 3]);
    kernel[axis] = k;
    stride[axis] = s;
    padding[axis] = p;
    pool(kernel, stride, padding, ceil_mode)
}

// ---------------------------------------------------------------- conv3d

#[test]
fn conv3d_is_cross_correlation_on_every_axis() {
    // x[t, h, w] = 1 + 4t + 2h + w (1..8), kernel k[t, h, w] = 2^(4t + 2h + w) (1..128), one
    // output: Σ_i (1 + i)·2^i = 1 + 4 + 12 + 32 + 80 + 192 + 448 + 1024 = 1793.
    // A flipped kernel (true convolution) would give Σ (1 + i)·2^(7 − i) = 502.
    let x = t64(&[1, 1, 2, 2, 2], &[1., 2., 3., 4., 5., 6., 7., 8.]);
    let w = t64(&[1, 1, 2, 2, 2], &[1., 2., 4., 8., 16., 32., 64., 128.]);
    assert_eq!(vals(&conv(&x, &w, None, [1; 3], [0; 3])), vec![1793.0]);
    // The f32 path agrees exactly (small integers).
    let y32 = conv(
        &x.to_dtype(stsm_engine::DType::F32).unwrap(),
        &w.to_dtype(stsm_engine::DType::F32).unwrap(),
        None,
        [1; 3],
        [0; 3],
    );
    assert_eq!(y32.to_vec::<f32>().unwrap(), vec![1793.0f32]);
}

#[test]
fn conv3d_sliding_window_in_h_and_w() {
    // x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], k = [[1, 2], [3, 4]]:
    // y00 = 1·1 + 2·2 + 4·3 + 5·4 = 37, y01 = 2 + 6 + 15 + 24 = 47,
    // y10 = 4 + 10 + 21 + 32 = 67,       y11 = 5 + 12 + 24 + 36 = 77.
    let x = t64(&[1, 1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    let w = t64(&[1, 1, 1, 2, 2], &[1., 2., 3., 4.]);
    let y = conv(&x, &w, None, [1; 3], [0; 3]);
    assert_eq!(y.dims(), &[1, 1, 1, 2, 2]);
    assert_eq!(vals(&y), vec![37., 47., 67., 77.]);
}

#[test]
fn conv3d_channels_and_bias() {
    // Input channel 0 is all 1, channel 1 all 10; 1×1×1 kernel w[o][c] = [[1, 2], [3, 4]],
    // bias [0.5, −1]: y0 = 1·1 + 2·10 + 0.5 = 21.5, y1 = 3·1 + 4·10 − 1 = 42.
    // (Swapping the O and C indices would give y0 = 31.5.) Two batch samples, the second ×2:
    // y0 = 2·21 + 0.5 = 42.5, y1 = 2·43 − 1 = 85.
    let mut data = vec![1.0; 6];
    data.extend(vec![10.0; 6]);
    data.extend(vec![2.0; 6]);
    data.extend(vec![20.0; 6]);
    let x = t64(&[2, 2, 1, 2, 3], &data);
    let w = t64(&[2, 2, 1, 1, 1], &[1., 2., 3., 4.]);
    let b = t64(&[2], &[0.5, -1.0]);
    let y = vals(&conv(&x, &w, Some(&b), [1; 3], [0; 3]));
    let mut expected = vec![21.5; 6];
    expected.extend(vec![42.0; 6]);
    expected.extend(vec![42.5; 6]);
    expected.extend(vec![85.0; 6]);
    assert_eq!(y, expected);
}

#[test]
fn conv3d_stride_and_padding_positions() {
    // W axis: x = [1, 2, 3, 4, 5], k = [1, 10, 100], padding 1, stride 2.
    // Padded: [0, 1, 2, 3, 4, 5, 0]; (7 − 3)/2 + 1 = 3 windows starting at 0, 2, 4:
    // 0·1 + 1·10 + 2·100 = 210; 2 + 30 + 400 = 432; 4 + 50 + 0 = 54.
    let x = t64(&[1, 1, 1, 1, 5], &[1., 2., 3., 4., 5.]);
    let w = t64(&[1, 1, 1, 1, 3], &[1., 10., 100.]);
    assert_eq!(vals(&conv(&x, &w, None, [1, 1, 2], [0, 0, 1])), vec![210., 432., 54.]);
    // The same along T (catches an axis mix-up).
    let (xt, wt) = (
        x.reshape(&[1, 1, 5, 1, 1]).unwrap(),
        w.reshape(&[1, 1, 3, 1, 1]).unwrap(),
    );
    assert_eq!(vals(&conv(&xt, &wt, None, [2, 1, 1], [1, 0, 0])), vec![210., 432., 54.]);
}

#[test]
fn conv3d_padding_contributes_zero_and_bias_still_applies() {
    // x all ones (1, 1, 5, 7, 6), kernel all ones (3, 2, 1), bias 0.25, stride (2, 1, 3),
    // padding (1, 0, 2). Output (3, 6, 4). Along W (kernel 1, pad 2, stride 3) the taps are at
    // −2, 1, 4, 7: positions 0 and 3 see only padding, so those outputs are the bias alone.
    // Along T (kernel 3, pad 1, stride 2) the windows are {−1,0,1}, {1,2,3}, {3,4,5}: 2, 3, 2
    // real taps; H always has 2. So y[t, h, 1 or 2] = 0.25 + 2·{2, 3, 2}[t].
    let x = Tensor::full(&[1, 1, 5, 7, 6], 1.0f64).unwrap();
    let w = Tensor::full(&[1, 1, 3, 2, 1], 1.0f64).unwrap();
    let b = t64(&[1], &[0.25]);
    let y = conv(&x, &w, Some(&b), [2, 1, 3], [1, 0, 2]);
    assert_eq!(y.dims(), &[1, 1, 3, 6, 4]);
    let y = vals(&y);
    for t in 0..3 {
        let inner = 0.25 + 2.0 * [2.0, 3.0, 2.0][t];
        for h in 0..6 {
            let row = &y[(t * 6 + h) * 4..(t * 6 + h + 1) * 4];
            assert_eq!(row, &[0.25, inner, inner, 0.25], "t={t} h={h}");
        }
    }
}

#[test]
fn conv3d_var_matches_tensor_function() {
    let (x, w, b) = (
        distinct(&[2, 3, 5, 7, 6], 1),
        distinct(&[4, 3, 3, 2, 3], 2),
        distinct(&[4], 3),
    );
    let opts = Conv3dOptions {
        stride: [2, 1, 3],
        padding: [1, 0, 2],
    };
    let tape = Tape::new();
    let y = tape
        .leaf(x.clone())
        .conv3d(&tape.leaf(w.clone()), Some(&tape.leaf(b.clone())), &opts)
        .unwrap();
    assert_eq!(
        vals(y.value()),
        vals(&ops::conv3d::conv3d(&x, &w, Some(&b), &opts).unwrap())
    );
}

// ---------------------------------------------------------------- max pooling

#[test]
fn max_pool_padding_is_minus_infinity() {
    // x = [−3, −1, −2], kernel 2, stride 2, padding 1 → (3 + 2 − 2)/2 + 1 = 2 windows:
    // {pad, −3} → −3 and {−1, −2} → −1. Zero padding would wrongly give 0 for the first.
    for axis in 0..3 {
        let (y, arg) =
            ops::pool3d::max_pool3d(&along(axis, &[-3., -1., -2.]), &pool_along(axis, 2, 2, 1, false)).unwrap();
        assert_eq!(vals(&y), vec![-3., -1.], "axis {axis}");
        assert_eq!(arg.to_vec::<u32>().unwrap(), vec![0, 1], "axis {axis}");
    }
    // 3D: x = −1..−8 on (2, 2, 2), kernel 2, stride 2, padding 1 on every axis: each of the
    // 2×2×2 windows holds exactly one real element (window o covers index o on each axis),
    // so the output equals the input — never 0.
    let data: Vec<f64> = (1..=8).map(|v| -(v as f64)).collect();
    let (y, _) = ops::pool3d::max_pool3d(&t64(&[1, 1, 2, 2, 2], &data), &pool([2; 3], [2; 3], [1; 3], false)).unwrap();
    assert_eq!(y.dims(), &[1, 1, 2, 2, 2]);
    assert_eq!(vals(&y), data);
}

#[test]
fn max_pool_ceil_mode_adds_the_partial_last_window() {
    // x = [−1, −2, −3, −4, −5], kernel 2, stride 2: floor → 2 windows {−1,−2}, {−3,−4};
    // ceil → a third, partial window {−5} (it starts at 4 < 5), whose max is −5 (not 0).
    for axis in 0..3 {
        let x = along(axis, &[-1., -2., -3., -4., -5.]);
        let (floor, _) = ops::pool3d::max_pool3d(&x, &pool_along(axis, 2, 2, 0, false)).unwrap();
        assert_eq!(vals(&floor), vec![-1., -3.]);
        let (ceil, arg) = ops::pool3d::max_pool3d(&x, &pool_along(axis, 2, 2, 0, true)).unwrap();
        assert_eq!(vals(&ceil), vec![-1., -3., -5.], "axis {axis}");
        assert_eq!(arg.to_vec::<u32>().unwrap(), vec![0, 2, 4]);
    }
}

#[test]
fn max_pool_overlapping_windows_route_both_gradients_to_a_shared_max() {
    // x = [0.1, 0.2, 0.9, 0.3, 0.4], kernel 3, stride 2: windows {0,1,2} and {2,3,4} both
    // pick index 2 (value 0.9). Upstream [1.5, 2.5] → gx = [0, 0, 4.0, 0, 0].
    for axis in 0..3 {
        let tape = Tape::new();
        let x = tape.leaf(along(axis, &[0.1, 0.2, 0.9, 0.3, 0.4]));
        let y = x.max_pool3d(&pool_along(axis, 3, 2, 0, false)).unwrap();
        assert_eq!(vals(y.value()), vec![0.9, 0.9]);
        let grads = y.backward_with(t64(y.dims(), &[1.5, 2.5])).unwrap();
        assert_eq!(vals(grads.get(&x).unwrap()), vec![0., 0., 4.0, 0., 0.], "axis {axis}");
    }
    // Distinct maxima: x = [0.5, 0.1, 0.2, 0.8, 0.3] → windows {0.5, 0.1, 0.2} → 0.5 at 0 and
    // {0.2, 0.8, 0.3} → 0.8 at 3; gx = [1.5, 0, 0, 2.5, 0].
    let tape = Tape::new();
    let x = tape.leaf(along(2, &[0.5, 0.1, 0.2, 0.8, 0.3]));
    let y = x.max_pool3d(&pool_along(2, 3, 2, 0, false)).unwrap();
    assert_eq!(vals(y.value()), vec![0.5, 0.8]);
    let grads = y.backward_with(t64(y.dims(), &[1.5, 2.5])).unwrap();
    assert_eq!(vals(grads.get(&x).unwrap()), vec![1.5, 0., 0., 2.5, 0.]);
}

#[test]
fn max_pool_argmax_is_the_index_within_the_plane() {
    // (1, 2, 1, 2, 3): channel 0 = [[1, 9, 2], [3, 4, 5]], channel 1 = [[6, 0, 7], [8, 1, 2]].
    // Kernel (1, 2, 2), stride 1 → two windows per channel, over columns {0,1} and {1,2}:
    // ch0: max(1, 9, 3, 4) = 9 at 1; max(9, 2, 4, 5) = 9 at 1.
    // ch1: max(6, 0, 8, 1) = 8 at 3; max(0, 7, 1, 2) = 7 at 2.
    let x = t64(&[1, 2, 1, 2, 3], &[1., 9., 2., 3., 4., 5., 6., 0., 7., 8., 1., 2.]);
    let (y, arg) = ops::pool3d::max_pool3d(&x, &pool([1, 2, 2], [1; 3], [0; 3], false)).unwrap();
    assert_eq!(y.dims(), &[1, 2, 1, 1, 2]);
    assert_eq!(vals(&y), vec![9., 9., 8., 7.]);
    assert_eq!(arg.to_vec::<u32>().unwrap(), vec![1, 1, 3, 2]);
}

// ---------------------------------------------------------------- average pooling

#[test]
fn avg_pool_count_include_pad_divisors() {
    // x = [1, 2, 3, 4], kernel 3, stride 2, padding 1.
    // Floor: (4 + 2 − 3)/2 + 1 = 2 windows, [−1, 2) and [1, 4):
    //   include pad: (0 + 1 + 2)/3 = 1, (2 + 3 + 4)/3 = 3;  exclude: 3/2 = 1.5, 3.
    // Ceil: ceil(3/2) + 1 = 3 windows; the third, [3, 6), starts at 3 < 4 + 1 so it stays.
    //   It holds x[3] = 4, one padded slot (index 4) and one slot beyond the padding
    //   (index 5), which PyTorch does not count: include pad → 4/2 = 2; exclude → 4/1 = 4.
    for axis in 0..3 {
        let x = along(axis, &[1., 2., 3., 4.]);
        let run = |ceil, cip| vals(&ops::pool3d::avg_pool3d(&x, &pool_along(axis, 3, 2, 1, ceil), cip).unwrap());
        assert_eq!(run(false, true), vec![1., 3.], "axis {axis}");
        assert_eq!(run(false, false), vec![1.5, 3.], "axis {axis}");
        assert_eq!(run(true, true), vec![1., 3., 2.], "axis {axis}");
        assert_eq!(run(true, false), vec![1.5, 3., 4.], "axis {axis}");
    }
}

#[test]
fn avg_pool_divisor_is_the_product_over_axes() {
    // All ones on (2, 2, 2), kernel 2, stride 2, padding 1: each of the 8 windows holds one
    // real element and 7 padded ones: include pad → 1/8; exclude → 1/1.
    let x = Tensor::full(&[1, 1, 2, 2, 2], 1.0f64).unwrap();
    let opts = pool([2; 3], [2; 3], [1; 3], false);
    assert_eq!(vals(&ops::pool3d::avg_pool3d(&x, &opts, true).unwrap()), vec![0.125; 8]);
    assert_eq!(vals(&ops::pool3d::avg_pool3d(&x, &opts, false).unwrap()), vec![1.0; 8]);
    // Mixed: kernel (2, 1, 3), stride (2, 1, 3), padding (1, 0, 1) on all ones (2, 1, 4):
    // T windows [−1, 1) and [1, 3): 1 real of 2 each. W: (4 + 2 − 3)/3 + 1 = 2 windows
    // [−1, 2) → 2 real of 3, [2, 5) → 2 real of 3. Include pad: 1·2/(2·3) = 1/3 everywhere.
    let x = Tensor::full(&[1, 1, 2, 1, 4], 1.0f64).unwrap();
    let y = ops::pool3d::avg_pool3d(&x, &pool([2, 1, 3], [2, 1, 3], [1, 0, 1], false), true).unwrap();
    assert_eq!(y.dims(), &[1, 1, 2, 1, 2]);
    assert_all_close("mixed divisor", &vals(&y), &[1.0 / 3.0; 4], 1e-15);
}

#[test]
fn avg_pool_backward_spreads_by_the_same_divisor() {
    // x = [1, 2, 3, 4], kernel 3, stride 2, padding 1, ceil (windows [−1,2), [1,4), [3,6)),
    // upstream ones. Include pad (divisors 3, 3, 2):
    //   gx = [1/3, 1/3 + 1/3, 1/3, 1/3 + 1/2] = [1/3, 2/3, 1/3, 5/6].
    // Exclude pad (divisors 2, 3, 1): gx = [1/2, 1/2 + 1/3, 1/3, 1/3 + 1] = [1/2, 5/6, 1/3, 4/3].
    for (cip, expected) in [
        (true, [1.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0, 5.0 / 6.0]),
        (false, [0.5, 5.0 / 6.0, 1.0 / 3.0, 4.0 / 3.0]),
    ] {
        let tape = Tape::new();
        let x = tape.leaf(along(1, &[1., 2., 3., 4.]));
        let y = x.avg_pool3d(&pool_along(1, 3, 2, 1, true), cip).unwrap();
        let grads = y.backward_with(Tensor::full(y.dims(), 1.0f64).unwrap()).unwrap();
        assert_all_close(&format!("cip={cip}"), &vals(grads.get(&x).unwrap()), &expected, 1e-15);
    }
}

// ---------------------------------------------------------------- dropout

#[test]
fn dropout_keeps_about_1_minus_p_and_scales_by_its_inverse() {
    let n = 20_000;
    let x = Tensor::full(&[4, n / 4], 1.0f64).unwrap();
    for p in [0.2, 0.5, 0.75] {
        let y = vals(&ops::dropout::dropout(&x, p, 11).unwrap());
        let kept: Vec<f64> = y.iter().copied().filter(|&v| v != 0.0).collect();
        let rate = kept.len() as f64 / n as f64;
        // Binomial standard deviation at n = 20000 is at most 0.0036: allow 4σ.
        assert!((rate - (1.0 - p)).abs() < 0.015, "p={p}: kept {rate}");
        let scale = 1.0 / (1.0 - p);
        assert!(
            kept.iter().all(|&v| (v - scale).abs() < 1e-12),
            "p={p}: kept values must be 1/(1-p) = {scale}"
        );
        // Same seed, same mask; another seed, another mask.
        assert_eq!(vals(&ops::dropout::dropout(&x, p, 11).unwrap()), y);
        assert_ne!(vals(&ops::dropout::dropout(&x, p, 12).unwrap()), y);
    }
}

#[test]
fn dropout_identities() {
    let x = distinct(&[2, 3, 5, 7, 6], 21);
    // p = 0 keeps everything unscaled.
    assert_eq!(vals(&ops::dropout::dropout(&x, 0.0, 5).unwrap()), vals(&x));
    let tape = Tape::new();
    let v = tape.leaf(x.clone());
    assert_eq!(vals(v.dropout(0.0, 5, true).unwrap().value()), vals(&x));
    // Evaluation mode is the identity whatever p.
    assert_eq!(vals(v.dropout(0.9, 5, false).unwrap().value()), vals(&x));
    // Training mode with p > 0 really drops something, and values kept are scaled x.
    let y = vals(v.dropout(0.5, 5, true).unwrap().value());
    assert!(y.contains(&0.0));
    for (a, b) in y.iter().zip(vals(&x)) {
        assert!(*a == 0.0 || (a - 2.0 * b).abs() < 1e-15, "{a} vs 2·{b}");
    }
    // p = 1 drops everything (and produces no NaN).
    assert!(vals(&ops::dropout::dropout(&x, 1.0, 5).unwrap())
        .iter()
        .all(|&e| e == 0.0));
    // p outside [0, 1] is an argument error naming the op.
    let err = err_msg(v.dropout(-0.1, 5, true));
    assert!(err.starts_with("dropout:") && err.contains("-0.1"), "{err}");
}

// ---------------------------------------------------------------- losses

#[test]
fn cross_entropy_hand_computed_2x3() {
    // Logits [[1, 2, 3], [1, −1, 0.5]], labels [2, 0]:
    //   row 0: −(3 − ln(e¹ + e² + e³))   = ln(e + e² + e³) − 3 ≈ 0.407606
    //   row 1: −(1 − ln(e¹ + e⁻¹ + e^0.5)) ≈ 0.554957
    //   mean ≈ 0.481281.
    let e = f64::exp;
    let row0 = (e(1.0) + e(2.0) + e(3.0)).ln() - 3.0;
    let row1 = (e(1.0) + e(-1.0) + e(0.5)).ln() - 1.0;
    let expected = (row0 + row1) / 2.0;
    assert!((expected - 0.481281442).abs() < 1e-9);
    let x = t64(&[2, 3], &[1., 2., 3., 1., -1., 0.5]);
    let loss = ops::loss::cross_entropy(&x, &[2, 0]).unwrap();
    assert_eq!(loss.dims(), &[] as &[usize]);
    assert!(
        (loss.item().unwrap() - expected).abs() < 1e-14,
        "{}",
        loss.item().unwrap()
    );
    // Through the tape, and its gradient (softmax − onehot)/N for row 0:
    // softmax = e^(x − lse); label 2.
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let l = xv.cross_entropy(&[2, 0]).unwrap();
    assert!((l.value().item().unwrap() - expected).abs() < 1e-14);
    let g = vals(l.backward().unwrap().get(&xv).unwrap());
    let lse0 = (e(1.0) + e(2.0) + e(3.0)).ln();
    let g0 = [e(1.0 - lse0) / 2.0, e(2.0 - lse0) / 2.0, (e(3.0 - lse0) - 1.0) / 2.0];
    assert_all_close("ce grad row 0", &g[..3], &g0, 1e-15);
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    // [1000, 0, −1000]: lse = 1000 + ln(1 + e⁻¹⁰⁰⁰ + e⁻²⁰⁰⁰) = 1000 exactly in f64.
    // Label 0 → 0; label 1 → 1000; mean 500.
    let x = t64(&[2, 3], &[1000., 0., -1000., 1000., 0., -1000.]);
    let loss = ops::loss::cross_entropy(&x, &[0, 1]).unwrap().item().unwrap();
    assert_eq!(loss, 500.0);
}

#[test]
fn log_softmax_rows_are_normalised() {
    let x = t64(
        &[3, 4],
        &[0.5, -1.25, 2.0, 0.0, 1000., 999., -1000., 0., -3.0, -3.0, -3.0, -3.0],
    );
    let y = vals(&ops::loss::log_softmax(&x).unwrap());
    for (r, row) in y.chunks(4).enumerate() {
        let total: f64 = row.iter().map(|v| v.exp()).sum();
        // 1e-12: for logits near 1000, x − lse is only good to an ulp of 1000 (1.1e-13).
        assert!((total - 1.0).abs() < 1e-12, "row {r}: Σ exp = {total}");
        assert!(row.iter().all(|v| v.is_finite() && *v <= 0.0), "row {r}: {row:?}");
    }
    // Row 0 by hand: x − ln Σ eˣ.
    let lse = [0.5f64, -1.25, 2.0, 0.0].iter().map(|v| v.exp()).sum::<f64>().ln();
    assert_all_close("row 0", &y[..4], &[0.5 - lse, -1.25 - lse, 2.0 - lse, -lse], 1e-14);
    // Row 1: the largest logit gets −ln(1 + e⁻¹) (the ±1000 terms vanish), the −1000 one −2000.
    assert!((y[4] + (1.0 + f64::exp(-1.0)).ln()).abs() < 1e-12, "{}", y[4]);
    assert!((y[6] + 2000.0 + (1.0 + f64::exp(-1.0)).ln()).abs() < 1e-9, "{}", y[6]);
    // Row 2: four equal logits → −ln 4 each.
    assert_all_close("row 2", &y[8..], &[-(4f64.ln()); 4], 1e-15);
}

// ---------------------------------------------------------------- temporal ops

#[test]
fn sliding_max_values_and_routing() {
    // Row 0: [1, 5, 2, 4, 3, 6], k = 3 → windows {1,5,2} {5,2,4} {2,4,3} {4,3,6} = [5, 5, 4, 6]
    // at frames [1, 1, 3, 5]. Row 1: increasing −6..−1 → [−4, −3, −2, −1] at frames
    // [2, 3, 4, 5] (the last frame belongs to the last window).
    let x = t64(&[1, 2, 6], &[1., 5., 2., 4., 3., 6., -6., -5., -4., -3., -2., -1.]);
    let (y, arg) = ops::temporal::sliding_max(&x, 3).unwrap();
    assert_eq!(y.dims(), &[1, 2, 4]);
    assert_eq!(vals(&y), vec![5., 5., 4., 6., -4., -3., -2., -1.]);
    assert_eq!(arg.to_vec::<u32>().unwrap(), vec![1, 1, 3, 5, 2, 3, 4, 5]);
    // Backward with ones: frames chosen twice get 2.
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let yv = xv.sliding_max(3).unwrap();
    let g = yv.backward_with(Tensor::full(&[1, 2, 4], 1.0f64).unwrap()).unwrap();
    assert_eq!(
        vals(g.get(&xv).unwrap()),
        vec![0., 2., 0., 1., 0., 1., 0., 0., 1., 1., 1., 1.]
    );
    // k = 1 is the identity; temporal_max is the max over all frames.
    assert_eq!(vals(&ops::temporal::sliding_max(&x, 1).unwrap().0), vals(&x));
    let m = Tape::no_grad().constant(x).temporal_max().unwrap();
    assert_eq!(m.dims(), &[1, 2]);
    assert_eq!(vals(m.value()), vec![6., -1.]);
}

#[test]
fn temporal_softmax_pool_limits_and_hand_formula() {
    let pool = |s: &[f64], gamma: f64| {
        let (f, p) = ops::temporal::temporal_softmax_pool(&t64(&[1, 1, s.len()], s), gamma).unwrap();
        assert_eq!(f.dims(), &[1, 1]);
        let p = vals(&p);
        assert!(
            (p.iter().sum::<f64>() - 1.0).abs() < 1e-14,
            "weights {p:?} must sum to 1"
        );
        f.item().unwrap()
    };
    // γ = 0: the plain mean. (0.2 − 0.5 + 1.3)/3 = 1/3.
    assert!((pool(&[0.2, -0.5, 1.3], 0.0) - 1.0 / 3.0).abs() < 1e-15);
    assert!((pool(&[1e3, -1e3, 4.0], 0.0) - 4.0 / 3.0).abs() < 1e-12);
    // γ = 1: Σ e^s·s / Σ e^s, written out.
    let e = f64::exp;
    let direct = (e(0.2) * 0.2 + e(-0.5) * -0.5 + e(1.3) * 1.3) / (e(0.2) + e(-0.5) + e(1.3));
    assert!((direct - 0.856995398849).abs() < 1e-11);
    assert!((pool(&[0.2, -0.5, 1.3], 1.0) - direct).abs() < 1e-15);
    // γ = 0.5 likewise.
    let half = (e(0.1) * 0.2 + e(-0.25) * -0.5 + e(0.65) * 1.3) / (e(0.1) + e(-0.25) + e(0.65));
    assert!((pool(&[0.2, -0.5, 1.3], 0.5) - half).abs() < 1e-15);
    // γ = 1e4: the max, even for close scores (gaps × γ = 4000: e⁻⁴⁰⁰⁰ = 0).
    assert_eq!(pool(&[0.3, 0.7, 0.1], 1e4), 0.7);
    // Extreme scores neither overflow nor produce NaN.
    assert_eq!(pool(&[1e3, -1e3, 0.5], 1e4), 1e3);
    assert_eq!(pool(&[1e3, -1e3], 1.0), 1e3);
    assert_eq!(pool(&[-1e3, -1e3 - 1.0], 1e4), -1e3);
    // Non-finite γ is rejected.
    let err = ops::temporal::temporal_softmax_pool(&t64(&[1, 1, 2], &[0., 1.]), f64::INFINITY)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("temporal_softmax_pool:") && err.contains("gamma"),
        "{err}"
    );
}

#[test]
fn temporal_softmax_pool_rows_are_independent() {
    // (2, 2, 3): four rows pooled separately; γ = 0 → row means.
    let s = t64(&[2, 2, 3], &[1., 2., 3., 10., 20., 30., -1., -1., -4., 0., 0., 6.]);
    let (f, _) = ops::temporal::temporal_softmax_pool(&s, 0.0).unwrap();
    assert_eq!(f.dims(), &[2, 2]);
    assert_all_close("row means", &vals(&f), &[2., 20., -2., 2.], 1e-14);
    let (f, _) = ops::temporal::temporal_softmax_pool(&s, 1e4).unwrap();
    assert_eq!(vals(&f), vec![3., 30., -1., 6.]);
}

// ---------------------------------------------------------------- error messages

#[test]
fn label_out_of_range_names_label_and_index() {
    let x = t64(&[2, 3], &[0.; 6]);
    let err = ops::loss::cross_entropy(&x, &[0, 5]).unwrap_err().to_string();
    assert!(
        err.starts_with("cross_entropy:") && err.contains("label 5") && err.contains("index 1") && err.contains("0..3"),
        "{err}"
    );
    let tape = Tape::new();
    let err = err_msg(tape.leaf(x.clone()).cross_entropy(&[3, 0]));
    assert!(err.contains("label 3") && err.contains("index 0"), "{err}");
    let err = ops::loss::cross_entropy(&x, &[0]).unwrap_err().to_string();
    assert!(err.contains("1 labels") && err.contains("(2, 3)"), "{err}");
}

#[test]
fn shape_errors_name_the_op_and_the_shapes() {
    let opts = Conv3dOptions::default();
    let x = Tensor::full(&[1, 3, 4, 4, 4], 0.0f64).unwrap();
    // conv3d channel mismatch.
    let w = Tensor::full(&[2, 4, 3, 3, 3], 0.0f64).unwrap();
    let err = ops::conv3d::conv3d(&x, &w, None, &opts).unwrap_err().to_string();
    assert!(
        err.starts_with("conv3d:") && err.contains("(1, 3, 4, 4, 4)") && err.contains("(2, 4, 3, 3, 3)"),
        "{err}"
    );
    let tape = Tape::new();
    let err = err_msg(tape.leaf(x.clone()).conv3d(&tape.leaf(w), None, &opts));
    assert!(err.starts_with("conv3d:") && err.contains("(2, 4, 3, 3, 3)"), "{err}");
    // conv3d bias of the wrong length.
    let w = Tensor::full(&[2, 3, 3, 3, 3], 0.0f64).unwrap();
    let b = Tensor::full(&[3], 0.0f64).unwrap();
    let err = ops::conv3d::conv3d(&x, &w, Some(&b), &opts).unwrap_err().to_string();
    assert!(err.starts_with("conv3d:") && err.contains("bias (3)"), "{err}");
    // conv3d kernel larger than the input.
    let big = Tensor::full(&[2, 3, 5, 3, 3], 0.0f64).unwrap();
    let err = ops::conv3d::conv3d(&x, &big, None, &opts).unwrap_err().to_string();
    assert!(err.starts_with("conv3d:") && err.contains("larger"), "{err}");
    // conv3d on a 4-D input.
    let x4 = Tensor::full(&[3, 4, 4, 4], 0.0f64).unwrap();
    let err = ops::conv3d::conv3d(&x4, &w, None, &opts).unwrap_err().to_string();
    assert!(err.starts_with("conv3d:") && err.contains("(3, 4, 4, 4)"), "{err}");
    // conv3d with mixed element types.
    let w32 = Tensor::full(&[2, 3, 3, 3, 3], 0.0f32).unwrap();
    let err = ops::conv3d::conv3d(&x, &w32, None, &opts).unwrap_err().to_string();
    assert!(
        err.starts_with("conv3d:") && err.contains("F32") && err.contains("F64"),
        "{err}"
    );
    // Pooling on a 4-D input; kernel over the padded input.
    let err = ops::pool3d::max_pool3d(&x4, &Pool3dOptions::new([2; 3]))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("max_pool3d:") && err.contains("(3, 4, 4, 4)"), "{err}");
    let err = ops::pool3d::avg_pool3d(&x, &Pool3dOptions::new([5, 2, 2]), true)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("avg_pool3d:") && err.contains("(1, 3, 4, 4, 4)"),
        "{err}"
    );
    // linear feature mismatch.
    let (a, wl) = (
        Tensor::full(&[2, 5], 0.0f64).unwrap(),
        Tensor::full(&[3, 4], 0.0f64).unwrap(),
    );
    let err = ops::linear::linear(&a, &wl, None).unwrap_err().to_string();
    assert!(
        err.starts_with("linear:") && err.contains("(2, 5)") && err.contains("(3, 4)"),
        "{err}"
    );
    // add of different shapes.
    let err = ops::arith::add(&a, &Tensor::full(&[5, 2], 0.0f64).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("add:") && err.contains("(2, 5)") && err.contains("(5, 2)"),
        "{err}"
    );
    // sliding_max window larger than the sequence; scores that are not (N, C, T).
    let s = Tensor::full(&[1, 2, 6], 0.0f64).unwrap();
    let err = ops::temporal::sliding_max(&s, 7).unwrap_err().to_string();
    assert!(
        err.starts_with("sliding_max:") && err.contains("window 7") && err.contains("(1, 2, 6)"),
        "{err}"
    );
    let err = ops::temporal::temporal_softmax_pool(&a, 1.0).unwrap_err().to_string();
    assert!(
        err.starts_with("temporal_softmax_pool:") && err.contains("(2, 5)"),
        "{err}"
    );
    // permute with a non-permutation; reshape to a different size.
    let err = ops::layout::permute(&a, &[0, 0]).unwrap_err().to_string();
    assert!(err.starts_with("permute:") && err.contains("[0, 0]"), "{err}");
    let err = err_msg(tape.leaf(a.clone()).reshape(&[3, 3]));
    assert!(
        err.starts_with("reshape:") && err.contains("(2, 5)") && err.contains("(3, 3)"),
        "{err}"
    );
}

//! Test-time scoring (paper §3.3): the fused window max + online-softmax pooling against the
//! unfused ops, chunked scoring with a halo against one pass over the whole video, and C3D-style
//! window scores against clips scored one by one.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::backend::cpu::fast::CpuFast;
use stsm_engine::backend::cpu::reference::CpuReference;
use stsm_engine::backend::Backend;
use stsm_engine::infer::pooling::{PoolState, Pooling};
use stsm_engine::infer::scorer::{score_video, unfused_pooled, FrameReader, ScoreOptions, TensorFrames};
use stsm_engine::nn::{Model, ModelConfig};
use stsm_engine::ops::temporal::{sliding_max, temporal_softmax_pool};
use stsm_engine::tensor::{DType, Tensor};

fn random(seed: u64, dims: &[usize], scale: f64) -> Tensor {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = dims.iter().product();
    Tensor::from_vec(dims, (0..n).map(|_| r.gen_range(-scale..scale) as f32).collect()).unwrap()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}[{i}]: got {a}, want {b}");
    }
}

/// The fused op's pooled scores and maxima from its states.
fn fused(be: &dyn Backend, x: &Tensor, k: usize, gamma: f64) -> (Vec<f64>, Vec<f64>) {
    let states = PoolState::from_rows(&be.window_pool_forward(x, k, gamma).unwrap().to_f64_vec().unwrap());
    let pooling = Pooling::Softmax { gamma };
    (
        states.iter().map(|s| s.pooled(pooling)).collect(),
        states.iter().map(|s| s.max).collect(),
    )
}

#[test]
fn fused_window_pooling_equals_sliding_max_then_softmax_pooling() {
    for (len, k) in [(40, 16), (16, 16), (17, 16), (9, 1), (5, 3)] {
        let x = random(len as u64, &[2, 3, len], 4.0);
        let (windows, _) = sliding_max(&x, k).unwrap();
        for gamma in [0.0, 0.5, 1.0, 10.0, -2.0] {
            let (pooled, _) = temporal_softmax_pool(&windows, gamma).unwrap();
            let want = pooled.to_f64_vec().unwrap();
            let max: Vec<f64> = windows
                .to_f64_vec()
                .unwrap()
                .chunks(len - k + 1)
                .map(|r| r.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                .collect();
            let states = |be: &dyn Backend| be.window_pool_forward(&x, k, gamma).unwrap().to_f64_vec().unwrap();
            assert_close(
                &format!("fast vs reference states, L {len} k {k} γ {gamma}"),
                &states(&CpuFast),
                &states(&CpuReference),
                1e-5,
            );
            for be in [&CpuFast as &dyn Backend, &CpuReference] {
                let (got, got_max) = fused(be, &x, k, gamma);
                let what = format!("{} L {len} k {k} γ {gamma}", be.name());
                assert_close(&what, &got, &want, 1e-5);
                assert_eq!(got_max, max, "{what}: max");
            }
        }
    }
}

#[test]
fn a_nan_frame_makes_its_windows_nan_in_every_implementation() {
    // Frame 20 is NaN: windows 5..=20 (k = 16) hold it, and softmax pooling over them is NaN.
    let mut values = random(9, &[1, 1, 40], 2.0).to_vec::<f32>().unwrap();
    values[20] = f32::NAN;
    let x = Tensor::from_vec(&[1, 1, 40], values).unwrap();
    let (windows, _) = sliding_max(&x, 16).unwrap();
    let w = windows.to_f64_vec().unwrap();
    assert!(w[5..=20].iter().all(|v| v.is_nan()) && w[..5].iter().chain(&w[21..]).all(|v| !v.is_nan()));
    for be in [&CpuFast as &dyn Backend, &CpuReference] {
        let (pooled, max) = fused(be, &x, 16, 1.0);
        assert!(pooled[0].is_nan(), "{}: {pooled:?}", be.name());
        // max ignores NaN, as f64::max does: the best finite window.
        let finite = w
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(max[0], finite, "{}", be.name());
    }
}

#[test]
fn fused_pooling_is_stable_for_huge_gamma() {
    // γ·S overflows f32 here; the online rescaling keeps every exponent ≤ 0.
    let x = Tensor::from_vec(&[1, 1, 4], vec![300.0f32, -300.0, 299.0, 1.0]).unwrap();
    let (got, _) = fused(&CpuFast, &x, 1, 1e37);
    assert_eq!(got, vec![300.0]);
}

/// A tiny-vgg3d or tiny-c3d on 32×32 frames with seeded He weights.
fn tiny(preset: &str, classes: usize) -> Model {
    let mut config = ModelConfig::preset(preset, classes).unwrap();
    config.input = [config.input[0], 32, 32];
    Model::seeded(config, DType::F32, 7).unwrap()
}

fn options(chunk: usize, pooling: Pooling) -> ScoreOptions {
    ScoreOptions {
        chunk_frames: chunk,
        ..ScoreOptions::new(16, 1, pooling)
    }
}

#[test]
fn chunked_vgg_scoring_equals_one_pass_and_the_unfused_scorer() {
    let model = tiny("tiny-vgg3d", 4);
    assert_eq!(model.config().temporal_halo(), Some(13));
    for frames in [45, 16, 7] {
        let video = random(frames as u64, &[3, frames, 32, 32], 1.0);
        let reader = TensorFrames(&video);
        for gamma in [0.0, 1.0, 5.0] {
            let pooling = Pooling::Softmax { gamma };
            let want = unfused_pooled(&model, &video, 16, 1, gamma).unwrap();
            for chunk in [0, 1, 5, 16, 30] {
                let got = score_video(&model, &reader, &options(chunk, pooling)).unwrap().pooled;
                assert_close(&format!("T {frames} γ {gamma} chunk {chunk}"), &got, &want, 1e-5);
            }
        }
    }
}

#[test]
fn kept_windows_are_the_sliding_max_of_one_pass_logits() {
    let model = tiny("tiny-vgg3d", 3);
    let video = random(3, &[3, 21, 32, 32], 1.0);
    let o = ScoreOptions {
        keep_windows: true,
        ..options(4, Pooling::Max)
    };
    let scores = score_video(&model, &TensorFrames(&video), &o).unwrap();
    let windows = scores.windows.unwrap();
    assert_eq!(windows.starts, (0..6).collect::<Vec<_>>());
    let tape = stsm_engine::autograd::Tape::no_grad();
    let logits = model
        .frame_logits(&tape.constant(video.reshape(&[1, 3, 21, 32, 32]).unwrap()), false, 0)
        .unwrap()
        .value()
        .to_f64_vec()
        .unwrap();
    for (class, row) in windows.scores.iter().enumerate() {
        let frames = &logits[class * 21..(class + 1) * 21];
        let want: Vec<f64> = frames
            .windows(16)
            .map(|w| w.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .collect();
        assert_close(&format!("class {class} windows"), row, &want, 1e-5);
        // Max pooling: the pooled score is the best window, which holds all the weight.
        let best = want.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_close("max pooled", &[scores.pooled[class]], &[best], 1e-5);
        let weight_on_best: f64 = windows.weights[class]
            .iter()
            .zip(row)
            .filter(|(_, &s)| s == row.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .map(|(w, _)| w)
            .sum();
        assert!((weight_on_best - 1.0).abs() < 1e-12);
    }
}

#[test]
fn c3d_windows_equal_clips_scored_one_by_one() {
    let model = tiny("tiny-c3d", 3);
    let video = random(11, &[3, 23, 32, 32], 1.0);
    let reader = TensorFrames(&video);
    let tape = stsm_engine::autograd::Tape::no_grad();
    for stride in [1, 3] {
        let o = ScoreOptions {
            keep_windows: true,
            ..ScoreOptions::new(16, stride, Pooling::Softmax { gamma: 1.0 })
        };
        let scores = score_video(&model, &reader, &o).unwrap();
        let windows = scores.windows.unwrap();
        let starts: Vec<usize> = (0..=7).step_by(stride).collect();
        assert_eq!(windows.starts, starts);
        for (i, &s) in starts.iter().enumerate() {
            let clip = reader.read(s, s + 16).unwrap().reshape(&[1, 3, 16, 32, 32]).unwrap();
            let logits = model
                .clip_logits(&tape.constant(clip), false, 0)
                .unwrap()
                .value()
                .to_f64_vec()
                .unwrap();
            let got: Vec<f64> = windows.scores.iter().map(|row| row[i]).collect();
            assert_close(&format!("stride {stride} window {s}"), &got, &logits, 1e-5);
        }
        let want = unfused_pooled(&model, &video, 16, stride, 1.0).unwrap();
        assert_close(&format!("stride {stride} pooled"), &scores.pooled, &want, 1e-5);
    }
}

#[test]
fn empty_videos_and_short_c3d_videos_are_errors() {
    let model = tiny("tiny-vgg3d", 2);
    let empty = Tensor::zeros(&[3, 0, 32, 32], DType::F32).unwrap();
    let err = score_video(&model, &TensorFrames(&empty), &options(0, Pooling::Max)).unwrap_err();
    assert!(err.to_string().contains("no frames"), "{err}");
    let c3d = tiny("tiny-c3d", 2);
    let short = random(1, &[3, 9, 32, 32], 1.0);
    let err = score_video(&c3d, &TensorFrames(&short), &options(0, Pooling::Max)).unwrap_err();
    assert!(err.to_string().contains("pad"), "{err}");
}

//! Test-time scoring speed (paper §3.3) on the CPU: `cargo bench --bench scoring`.
//!
//! - `pooling/*`: the fused window max + online-softmax pooling against the unfused ops (sliding
//!   max, then softmax pooling) on per-frame logits of a long video (7 classes × 2000 frames).
//! - `video/*`: windows scored per second for a tiny-vgg3d on 32×32 frames: the dense pass
//!   (per-frame logits of the whole video, then windows), the same in chunks of 32 frames, and
//!   every window scored as its own 16-frame clip (what a scorer without the fully convolutional
//!   pass would do). Criterion's throughput line is windows/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::autograd::Tape;
use stsm_engine::infer::pooling::Pooling;
use stsm_engine::infer::scorer::{score_video, FrameReader, ScoreOptions, TensorFrames};
use stsm_engine::nn::{Model, ModelConfig};
use stsm_engine::ops::temporal::{sliding_max, temporal_softmax_pool, window_pool_states};
use stsm_engine::tensor::{DType, Tensor};

const CLIP: usize = 16;

fn random(seed: u64, dims: &[usize]) -> Tensor {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = dims.iter().product();
    Tensor::from_vec(dims, (0..n).map(|_| r.gen_range(-1.0f32..1.0)).collect()).unwrap()
}

fn pooling(c: &mut Criterion) {
    let frames = 2000;
    let logits = random(1, &[1, 7, frames]);
    let mut g = c.benchmark_group("pooling");
    g.throughput(Throughput::Elements((frames - CLIP + 1) as u64));
    g.bench_function("fused", |b| b.iter(|| window_pool_states(&logits, CLIP, 1.0).unwrap()));
    g.bench_function("unfused", |b| {
        b.iter(|| temporal_softmax_pool(&sliding_max(&logits, CLIP).unwrap().0, 1.0).unwrap())
    });
    g.finish();
}

fn video(c: &mut Criterion) {
    let mut config = ModelConfig::preset("tiny-vgg3d", 7).unwrap();
    config.input = [CLIP, 32, 32];
    let model = Model::seeded(config, DType::F32, 0).unwrap();
    let frames = 64;
    let video = random(2, &[3, frames, 32, 32]);
    let reader = TensorFrames(&video);
    let windows = frames - CLIP + 1;
    let softmax = Pooling::Softmax { gamma: 1.0 };
    let mut g = c.benchmark_group("video");
    g.sample_size(10);
    g.throughput(Throughput::Elements(windows as u64));
    for chunk in [0, 32] {
        let o = ScoreOptions {
            chunk_frames: chunk,
            ..ScoreOptions::new(CLIP, 1, softmax)
        };
        let name = if chunk == 0 { "dense-one-pass" } else { "dense-chunked" };
        g.bench_with_input(BenchmarkId::new(name, chunk), &o, |b, o| {
            b.iter(|| score_video(&model, &reader, o).unwrap())
        });
    }
    g.bench_function("window-as-clip", |b| {
        b.iter(|| {
            let tape = Tape::no_grad();
            for s in 0..windows {
                let clip = reader
                    .read(s, s + CLIP)
                    .unwrap()
                    .reshape(&[1, 3, CLIP, 32, 32])
                    .unwrap();
                model.clip_logits(&tape.constant(clip), false, 0).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, pooling, video);
criterion_main!(benches);

//! Writes example plots from synthetic data: `cargo run --example plots_demo -- DIR` (default
//! docs/images). The sampling traces come from a small simulation of the sampler itself
//! (warm-up, 5-slot exploration, softmax exploitation with triangular updates) over a made-up
//! score profile that peaks on a known informative segment, so the pictures look like what a
//! real run produces without needing one.

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::report::{sampling_map, sampling_maps, training_curves, EpochPoint, SamplingTrace};

const WARMUP: usize = 3;
const EXPLORATION: usize = 5;

fn phase(epoch: usize) -> &'static str {
    if epoch <= WARMUP {
        "warm-up"
    } else if epoch <= WARMUP + EXPLORATION {
        "exploration"
    } else {
        "exploitation"
    }
}

/// A plausible run: losses fall, validation flattens and turns up late (over-fitting).
fn curves(epochs: usize, rng: &mut ChaCha8Rng) -> Vec<EpochPoint> {
    (1..=epochs)
        .map(|e| {
            let t = e as f64;
            let train_loss = 1.95 * (-t / 14.0).exp() + 0.12 + rng.gen_range(-0.03..0.03);
            let val_loss =
                1.9 * (-t / 11.0).exp() + 0.55 + 0.0006 * (t - 18.0).max(0.0).powi(2) + rng.gen_range(-0.04..0.04);
            EpochPoint {
                epoch: e,
                phase: phase(e).into(),
                train_loss,
                train_acc: (1.0 - train_loss / 2.2).clamp(0.0, 1.0),
                val_loss: Some(val_loss),
                val_acc: Some((1.0 - val_loss / 2.4).clamp(0.0, 1.0)),
                lr: if e < 30 { 0.01 } else { 0.005 },
            }
        })
        .collect()
}

/// Simulates stochastic softmax sampling on one video whose true-class logit is high on frames
/// truth.0..truth.1 and peaks at the apex.
fn simulate(id: &str, len: usize, truth: (usize, usize), apex: usize, epochs: usize, seed: u64) -> SamplingTrace {
    let f = 16;
    let n = len - f + 1;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The "model's" logit of the clip starting at s: the share of its frames inside the segment,
    // raised near the apex, plus a little noise each time it is scored.
    let logit = |s: usize, rng: &mut ChaCha8Rng| {
        let inside = (s..s + f).filter(|&fr| fr >= truth.0 && fr < truth.1).count() as f64 / f as f64;
        let near = (-((s as f64 + 7.5 - apex as f64) / 12.0).powi(2)).exp();
        (-1.0 + 2.5 * inside + 1.5 * near + rng.gen_range(-0.3..0.3)) as f32
    };
    let mut w = vec![0.0f32; n];
    let mut picks = Vec::new();
    let mut slots: Vec<usize> = (0..5).map(|k| (n - 1) * k / 4).collect();
    // Exploration visits the 5 slots in a random order.
    for i in (1..slots.len()).rev() {
        slots.swap(i, rng.gen_range(0..=i));
    }
    let prop = (n.saturating_sub(EXPLORATION) as f64 / (EXPLORATION - 1) as f64 / 2.0).ceil() as usize;
    for e in 1..=epochs {
        let t = match phase(e) {
            "warm-up" => rng.gen_range(0..n),
            "exploration" => {
                let t = slots[e - WARMUP - 1];
                let s = logit(t, &mut rng);
                for v in &mut w[t.saturating_sub(prop)..=(t + prop).min(n - 1)] {
                    *v = s;
                }
                t
            }
            _ => {
                // softmax(γ w) with γ = 1, sampled by inverse CDF.
                let m = w.iter().cloned().fold(f32::MIN, f32::max);
                let p: Vec<f64> = w.iter().map(|&v| ((v - m) as f64).exp()).collect();
                let mut u = rng.gen::<f64>() * p.iter().sum::<f64>();
                let t = p.iter().position(|&pi| {
                    u -= pi;
                    u <= 0.0
                });
                let t = t.unwrap_or(n - 1);
                let s = logit(t, &mut rng);
                let lo = t.saturating_sub(16);
                for (i, wi) in w.iter_mut().enumerate().take((t + 16).min(n)).skip(lo) {
                    let a = (16.0 - (t as f32 - i as f32).abs()) / 16.0;
                    *wi += a * (s - *wi);
                }
                t
            }
        };
        picks.push((e, t, phase(e).to_string()));
    }
    SamplingTrace {
        video_id: id.into(),
        video_len: len,
        clip_len: f,
        picks,
        final_scores: w,
        truth: Some(truth),
        apex: Some(apex),
    }
}

fn main() -> stsm_engine::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "docs/images".into()));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let points = curves(45, &mut rng);
    training_curves(
        &points,
        "Training curves (synthetic run, gamma = 1)",
        &dir.join("training_curves.png"),
    )?;
    let main_trace = simulate("synth-0007", 150, (62, 104), 84, 40, 11);
    sampling_map(&main_trace, &dir.join("sampling_map.png"))?;
    let traces = vec![
        main_trace,
        simulate("synth-0012", 90, (10, 40), 22, 40, 12),
        simulate("synth-0031", 220, (150, 200), 171, 40, 13),
        simulate("synth-0044", 60, (20, 45), 33, 40, 14),
    ];
    sampling_maps(&traces, &dir.join("sampling_maps.png"))?;
    for name in ["training_curves.png", "sampling_map.png", "sampling_maps.png"] {
        println!("{}", dir.join(name).display());
    }
    Ok(())
}

//! Training a few SGD steps of the tiny 3D CNN on a given device, for the device acceptance
//! tests (tests/tiny_net_emulated.rs, tests/gpu_vs_cpu.rs): conv, relu, max-pool, dropout,
//! linear, cross-entropy and momentum SGD, forward, backward and update on that device.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stsm_engine::autograd::Tape;
use stsm_engine::nn::tiny::TinyNet;
use stsm_engine::nn::{Init, LayerInit, Module};
use stsm_engine::optim::{ParamGroup, Sgd};
use stsm_engine::tensor::{DType, Device, Tensor};

const CLIP: [usize; 3] = [4, 8, 8];
const CLASSES: usize = 3;
const BATCH: usize = 3;
const STEPS: usize = 3;

pub fn net(device: Device) -> TinyNet {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut li = LayerInit {
        init: Init::HeNormal,
        dtype: DType::F32,
        rng: &mut rng,
    };
    let net = TinyNet::new(CLIP, CLASSES, 0.25, &mut li).unwrap();
    for p in net.parameters() {
        p.set_value(p.value().to_device(device).unwrap()).unwrap();
    }
    net
}

fn batch(step: usize) -> (Tensor, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(100 + step as u64);
    let n = BATCH * 3 * CLIP.iter().product::<usize>();
    let data: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let labels = (0..BATCH).map(|i| (i + step) % CLASSES).collect();
    (
        Tensor::from_vec(&[BATCH, 3, CLIP[0], CLIP[1], CLIP[2]], data).unwrap(),
        labels,
    )
}

/// Losses of each step and the final parameters (on the host).
pub fn train(device: Device) -> (Vec<f64>, Vec<Vec<f64>>) {
    let net = net(device);
    let group = ParamGroup {
        name: "all".into(),
        params: net.parameters(),
        lr: 0.05,
        weight_decay: 1e-3,
    };
    let mut sgd = Sgd::new(vec![group], 0.9, 0.0, false).unwrap();
    let mut losses = Vec::new();
    for step in 0..STEPS {
        let (clips, labels) = batch(step);
        let tape = Tape::new();
        let x = tape.constant(clips.to_device(device).unwrap());
        let loss = net
            .forward(&x, true, step as u64)
            .unwrap()
            .cross_entropy(&labels)
            .unwrap();
        assert_eq!(loss.value().device(), device, "the loss must be computed on {device}");
        losses.push(loss.value().item().unwrap());
        loss.backward().unwrap();
        sgd.step(1).unwrap();
    }
    let params = net
        .parameters()
        .iter()
        .map(|p| {
            assert_eq!(p.value().device(), device, "{} left {device}", p.name());
            p.value().to_f64_vec().unwrap()
        })
        .collect();
    (losses, params)
}

/// Asserts that `device` tracks the CPU: every step's loss within 1e-4 relative, every final
/// parameter within 1e-4·(1 + |p|) (f32; the kernels sum in another order than the loops).
pub fn assert_tracks_cpu(device: Device) {
    let (cpu_losses, cpu_params) = train(Device::Cpu);
    let (dev_losses, dev_params) = train(device);
    eprintln!("losses: cpu {cpu_losses:?}, {device} {dev_losses:?}");
    for (step, (c, e)) in cpu_losses.iter().zip(&dev_losses).enumerate() {
        assert!(
            (c - e).abs() <= 1e-4 * c.abs(),
            "step {step}: loss cpu {c}, {device} {e}"
        );
    }
    let mut worst = 0f64;
    for (i, (c, e)) in cpu_params.iter().zip(&dev_params).enumerate() {
        for (j, (a, b)) in c.iter().zip(e).enumerate() {
            worst = worst.max((a - b).abs() / (1.0 + a.abs()));
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + a.abs()),
                "param {i}[{j}]: cpu {a}, {device} {b}"
            );
        }
    }
    eprintln!("largest parameter difference after {STEPS} steps: {worst:e} (relative to 1 + |p|)");
    // The run must actually have moved the parameters, or the comparison proves little.
    let initial: Vec<Vec<f64>> = net(Device::Cpu)
        .parameters()
        .iter()
        .map(|p| p.value().to_f64_vec().unwrap())
        .collect();
    assert_ne!(cpu_params, initial);
}

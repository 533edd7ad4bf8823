//! `stsm-engine demo`: trains the tiny composed 3D CNN on random clips whose class shows as a
//! brightness shift in one colour channel, printing the loss as it falls. Until `train` lands
//! this is the engine's end-to-end smoke test.

use std::time::Instant;

use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::autograd::Tape;
use crate::error::{Error, Result};
use crate::nn::layers::{LayerInit, Module};
use crate::nn::tiny::TinyNet;
use crate::nn::Init;
use crate::optim::{ParamGroup, Sgd};
use crate::tensor::{DType, Device, Tensor};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Number of SGD steps.
    #[arg(long, default_value_t = 60)]
    steps: usize,
    /// Clips per micro-batch.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Micro-batches whose gradients are averaged into one step.
    #[arg(long, default_value_t = 2)]
    accumulate: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Seed of the data, the initial weights and the dropout masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to train: cpu, cuda, cuda:N, or cuda-emu (the CPU emulation of the CUDA kernels,
    /// in builds with --features cuda-emulation; slow).
    #[arg(long, default_value = "cpu")]
    device: Device,
}

const CLASSES: usize = 3;
const CLIP: [usize; 3] = [4, 12, 12];

/// A batch of noise clips (N, 3, T, H, W) in which class c brightens colour channel c.
fn random_batch(rng: &mut ChaCha8Rng, batch: usize) -> Result<(Tensor, Vec<usize>)> {
    let plane: usize = CLIP.iter().product();
    let labels: Vec<usize> = (0..batch).map(|_| rng.gen_range(0..CLASSES)).collect();
    let mut data = Vec::with_capacity(batch * 3 * plane);
    for &label in &labels {
        for channel in 0..3 {
            let shift = if channel == label { 0.8 } else { 0.0 };
            data.extend((0..plane).map(|_| rng.gen_range(-1.0f32..1.0) + shift));
        }
    }
    Ok((Tensor::from_vec(&[batch, 3, CLIP[0], CLIP[1], CLIP[2]], data)?, labels))
}

pub fn run(args: &DemoArgs) -> Result<()> {
    if args.batch == 0 || args.accumulate == 0 || args.steps == 0 {
        return Err(Error::argument(
            "demo",
            "--steps, --batch and --accumulate must be at least 1",
        ));
    }
    // What one micro-batch keeps until its backward pass, in f32 and in units of a clip's
    // T·H·W: the input (3 channels), conv1 and its relu (4 + 4), pool1 (1), conv2 and its relu
    // (2 + 2, after pool1's 4× fewer positions), pool2 and dropout (0.5 + 0.5); and as much again
    // for their gradients. A lower bound (im2col scratch comes on top): refuse what cannot fit.
    let plane: usize = CLIP.iter().product();
    const KEPT_PLANES_X2: usize = 2 * 17;
    crate::resources::ensure_fits(
        "demo",
        &format!("--batch {}", args.batch),
        crate::resources::product(&[args.batch, KEPT_PLANES_X2, plane, 4]),
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut li = LayerInit {
        init: Init::HeNormal,
        dtype: DType::F32,
        rng: &mut rng,
    };
    let net = TinyNet::new(CLIP, CLASSES, 0.25, &mut li)?;
    net.to_device(args.device)?;
    let group = ParamGroup {
        name: "all".into(),
        params: net.parameters(),
        lr: args.lr,
        weight_decay: 1e-4,
    };
    let mut sgd = Sgd::new(vec![group], 0.9, 0.0, false)?;
    println!(
        "demo: tiny 3D CNN ({} parameters) on {}, random {}-class clips {:?}, batch {} x {} micro-batches",
        net.parameters().iter().map(|p| p.value().numel()).sum::<usize>(),
        args.device,
        CLASSES,
        CLIP,
        args.batch,
        args.accumulate
    );
    let start = Instant::now();
    let mut first = None;
    let mut window = Vec::new();
    for step in 1..=args.steps {
        let mut step_loss = 0.0;
        for micro in 0..args.accumulate {
            let (clips, labels) = random_batch(&mut rng, args.batch)?;
            let tape = Tape::new();
            let seed = (step * args.accumulate + micro) as u64 ^ args.seed.rotate_left(32);
            let clips = clips.to_device(args.device)?;
            let loss = net.forward(&tape.constant(clips), true, seed)?.cross_entropy(&labels)?;
            step_loss += loss.value().item()? / args.accumulate as f64;
            loss.backward()?;
        }
        sgd.step(args.accumulate)?;
        first.get_or_insert(step_loss);
        window.push(step_loss);
        if step % 10 == 0 || step == args.steps {
            let mean = window.iter().sum::<f64>() / window.len() as f64;
            println!(
                "step {step:>4}  loss {mean:.4}  ({:.1} s)",
                start.elapsed().as_secs_f64()
            );
            window.clear();
        }
    }
    println!(
        "first-step loss {:.4}; chance level ln({CLASSES}) = {:.4}",
        first.unwrap_or(0.0),
        (CLASSES as f64).ln()
    );
    Ok(())
}

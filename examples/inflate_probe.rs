//! Diagnostic: does an inflated 2D checkpoint still classify the stills when each is shown as a
//! static clip of F frames? Compares repeat-and-divide with centre inflation.
//! args: stills dir, 2D checkpoint, frames
use std::sync::Arc;

use stsm_engine::data::augment::{AugmentConfig, SYNTH_STD};
use stsm_engine::data::{
    AugMode, ClipRequest, ClipSpec, FolderSource, Interp, Loader, LoaderConfig, Padding, VideoSource,
};
use stsm_engine::nn::checkpoint;
use stsm_engine::nn::inflate::{inflate_checkpoint, InflateOptions};
use stsm_engine::nn::layers::Module;
use stsm_engine::nn::{Model, ModelConfig};
use stsm_engine::{DType, Tape, Tensor};

fn main() -> stsm_engine::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let d = stsm_engine::train::pretrain::discover_stills(std::path::Path::new(&a[1]))?;
    let frames: usize = a[3].parse().unwrap();
    let source: Arc<dyn VideoSource> = Arc::new(FolderSource::new(d, None, Interp::Bilinear)?);
    let aug = AugmentConfig {
        std: SYNTH_STD,
        ..AugmentConfig::scaled(36, 32)
    };
    let reqs: Vec<ClipRequest> = (0..source.videos().len())
        .step_by(7)
        .map(|video| ClipRequest { video, start: 0 })
        .collect();
    let cfg = LoaderConfig {
        batch: 300,
        workers: 1,
        prefetch: 1,
        spec: ClipSpec {
            len: 1,
            padding: Padding::Black,
        },
        augment: aug,
        mode: AugMode::Eval,
        drop_last: false,
    };
    let batch = Loader::new(source.clone(), reqs, cfg)?.next().unwrap()?;
    let n = batch.labels.len();
    // (N, 3, 1, H, W) -> (N, 3, F, H, W) by repetition.
    let v = batch.clips.to_vec::<f32>()?;
    let hw = 32 * 32;
    let mut rep = Vec::with_capacity(v.len() * frames);
    for img in v.chunks(3 * hw) {
        for c in 0..3 {
            for _ in 0..frames {
                rep.extend_from_slice(&img[c * hw..(c + 1) * hw]);
            }
        }
    }
    let clips = Tensor::from_vec(&[n, 3, frames, 32, 32], rep)?;
    let ck = checkpoint::load(std::path::Path::new(&a[2]))?;
    let acc = |m: &Model, x: &Tensor| -> stsm_engine::Result<(f64, f64)> {
        let l = m
            .clip_logits(&Tape::no_grad().constant(x.clone()), false, 0)?
            .value()
            .to_f64_vec()?;
        let ok = l
            .chunks(8)
            .zip(&batch.labels)
            .filter(|(r, &y)| r.iter().cloned().fold(f64::MIN, f64::max) == r[y])
            .count();
        let mag = l.iter().map(|x| x.abs()).sum::<f64>() / l.len() as f64;
        Ok((ok as f64 / n as f64, mag))
    };
    let mut c2 = ModelConfig::preset("tiny-vgg2d", 8)?;
    c2.input = [1, 32, 32];
    let m2 = Model::seeded(c2, DType::F32, 0)?;
    ck.load_into(&m2.parameters(), &[], std::path::Path::new(&a[2]))?;
    println!("2D on {n} stills: acc, mean |logit| {:?}", acc(&m2, &batch.clips)?);
    for center in [false, true] {
        let (t, _) = inflate_checkpoint(
            &ck,
            &InflateOptions {
                time_kernel: 3,
                center,
                frames,
            },
        )?;
        let mut c3 = ModelConfig::preset("tiny-vgg3d", 8)?;
        c3.input = [frames, 32, 32];
        let m3 = Model::seeded(c3, DType::F32, 0)?;
        for p in m3.parameters() {
            let (_, v) = t.iter().find(|(k, _)| k == p.name()).unwrap();
            p.set_value(v.clone())?;
        }
        println!(
            "3D (centre {center}) on static {frames}-frame clips: acc, mean |logit| {:?}",
            acc(&m3, &clips)?
        );
    }
    Ok(())
}

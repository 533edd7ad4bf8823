//! Diagnostic: can a 2D preset memorise 16 stills (no augmentation, no dropout)?
//! args: stills dir, model, lr, steps, input std divisor
use std::sync::Arc;

use stsm_engine::data::augment::AugmentConfig;
use stsm_engine::data::{
    AugMode, ClipRequest, ClipSpec, FolderSource, Interp, Loader, LoaderConfig, Padding, VideoSource,
};
use stsm_engine::nn::layers::Module;
use stsm_engine::nn::{Model, ModelConfig};
use stsm_engine::optim::{ParamGroup, Sgd};
use stsm_engine::{DType, Tape};

fn main() -> stsm_engine::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let d = stsm_engine::train::pretrain::discover_stills(std::path::Path::new(&a[1]))?;
    let lr: f64 = a[3].parse().unwrap();
    let steps: usize = a[4].parse().unwrap();
    let sd: f32 = a[5].parse().unwrap();
    let source: Arc<dyn VideoSource> = Arc::new(FolderSource::new(d, None, Interp::Bilinear)?);
    let mut aug = AugmentConfig::scaled(36, 32);
    aug.std = [sd; 3];
    let reqs: Vec<ClipRequest> = (0..source.videos().len())
        .step_by(20)
        .map(|video| ClipRequest { video, start: 0 })
        .collect();
    let cfg = LoaderConfig {
        batch: 16,
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
    let mut mc = ModelConfig::preset(&a[2], 8)?;
    mc.input = [1, 32, 32];
    mc.dropout = 0.0;
    let model = Model::seeded(mc, DType::F32, 3)?;
    let mut sgd = Sgd::new(
        vec![ParamGroup {
            name: "all".into(),
            params: model.parameters(),
            lr,
            weight_decay: 0.0,
        }],
        0.9,
        0.0,
        false,
    )?;
    for s in 0..steps {
        let tape = Tape::new();
        let logits = model.clip_logits(&tape.constant(batch.clips.clone()), true, s as u64)?;
        let l = logits.cross_entropy(&batch.labels)?;
        if s % (steps / 20).max(1) == 0 || s + 1 == steps {
            let v = logits.value().to_f64_vec()?;
            let acc = v
                .chunks(8)
                .zip(&batch.labels)
                .filter(|(r, &y)| r.iter().cloned().fold(f64::MIN, f64::max) == r[y])
                .count();
            println!("step {s:>4} loss {:.4} acc {acc}/16", l.value().item()?);
        }
        l.backward()?;
        sgd.step(1)?;
    }
    Ok(())
}

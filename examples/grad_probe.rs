//! Diagnostic: tiny-vgg2d gradients (fast CPU path) against the reference loops and against a
//! central finite difference along the gradient, in f64 on a real batch of stills.
use std::sync::Arc;

use stsm_engine::backend::{set_cpu_kind, CpuKind};
use stsm_engine::data::augment::AugmentConfig;
use stsm_engine::data::{
    AugMode, ClipRequest, ClipSpec, FolderSource, Interp, Loader, LoaderConfig, Padding, VideoSource,
};
use stsm_engine::nn::layers::Module;
use stsm_engine::nn::{Model, ModelConfig};
use stsm_engine::{DType, Tape, Tensor};

fn main() -> stsm_engine::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("stills dir"));
    let model_name = std::env::args().nth(2).unwrap_or("tiny-vgg2d".into());
    let d = stsm_engine::train::pretrain::discover_stills(&dir)?;
    let source: Arc<dyn VideoSource> = Arc::new(FolderSource::new(d, None, Interp::Bilinear)?);
    let aug = AugmentConfig::scaled(36, 32);
    let reqs: Vec<ClipRequest> = (0..source.videos().len())
        .step_by(40)
        .map(|video| ClipRequest { video, start: 0 })
        .collect();
    let cfg = LoaderConfig {
        batch: 8,
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
    let x64 = batch.clips.to_dtype(DType::F64)?;
    let mut mc = ModelConfig::preset(&model_name, 8)?;
    mc.input = [1, 32, 32];
    let model = Model::seeded(mc, DType::F64, 3)?;
    let loss_of = |m: &Model| -> stsm_engine::Result<(f64, Vec<Tensor>)> {
        for p in m.parameters() {
            p.zero_grad();
        }
        let tape = Tape::new();
        let l = m
            .clip_logits(&tape.constant(x64.clone()), false, 0)?
            .cross_entropy(&batch.labels)?;
        let v = l.value().item()?;
        l.backward()?;
        Ok((v, m.parameters().iter().map(|p| p.grad().unwrap()).collect()))
    };
    let (l0, g_fast) = loss_of(&model)?;
    set_cpu_kind(CpuKind::Reference);
    let (l0r, g_ref) = loss_of(&model)?;
    set_cpu_kind(CpuKind::Fast);
    println!("loss fast {l0} ref {l0r}");
    for ((p, a), b) in model.parameters().iter().zip(&g_fast).zip(&g_ref) {
        let (a, b) = (a.to_f64_vec()?, b.to_f64_vec()?);
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        let n = b.iter().map(|x| x * x).sum::<f64>().sqrt();
        println!("{:<20} |g_ref| {n:.4e} max|fast-ref| {diff:.3e}", p.name());
    }
    // Directional finite difference along the reference gradient.
    let params = model.parameters();
    let orig: Vec<Tensor> = params.iter().map(|p| p.value()).collect();
    let gg: f64 = g_ref
        .iter()
        .map(|g| g.to_f64_vec().unwrap().iter().map(|x| x * x).sum::<f64>())
        .sum();
    let eps = 1e-4 / gg.sqrt();
    let shift = |s: f64| -> stsm_engine::Result<f64> {
        for ((p, o), g) in params.iter().zip(&orig).zip(&g_ref) {
            let v: Vec<f64> = o
                .to_f64_vec()?
                .iter()
                .zip(g.to_f64_vec()?)
                .map(|(a, b)| a + s * b)
                .collect();
            p.set_value(Tensor::from_vec(o.dims(), v)?)?;
        }
        Ok(loss_of(&model)?.0)
    };
    let (lp, lm) = (shift(eps)?, shift(-eps)?);
    println!(
        "directional: finite diff {:.6e} vs |g|^2 {:.6e}",
        (lp - lm) / (2.0 * eps),
        gg
    );
    Ok(())
}

//! Loader throughput in clips/s, from PNG frame folders and from a pack, with and without
//! background threads. Run with `scripts/bench-loader.sh` (or `cargo bench --bench data_loader`).
//! Uses the synthetic benchmark: generated into a temporary folder, or the `videos/` of an
//! existing `stsm-engine synth` output named by STSM_BENCH_SYNTH.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stsm_engine::data::augment::AugmentConfig;
use stsm_engine::data::clip::{ClipSpec, Padding};
use stsm_engine::data::frames::discover_split;
use stsm_engine::data::image_io::Interp;
use stsm_engine::data::loader::{uniform_epoch, AugMode, Loader, LoaderConfig};
use stsm_engine::data::pack::Pack;
use stsm_engine::data::packer::{pack_dataset, PackOptions};
use stsm_engine::data::source::{FolderSource, VideoSource};
use stsm_engine::data::synth::{generate, SynthConfig};

/// Loads epochs of uniformly drawn clips until `budget` has passed; returns clips/s.
fn clips_per_second(source: Arc<dyn VideoSource>, cfg: &LoaderConfig, budget: Duration) -> f64 {
    let t0 = Instant::now();
    let mut clips = 0usize;
    let mut epoch = 0;
    while t0.elapsed() < budget {
        let requests = uniform_epoch(source.as_ref(), cfg.spec, 0, epoch);
        let mode = match cfg.mode {
            AugMode::Train { seed, .. } => AugMode::Train { seed, epoch },
            AugMode::Eval => AugMode::Eval,
        };
        let loader = Loader::new(source.clone(), requests, LoaderConfig { mode, ..cfg.clone() }).expect("loader");
        for batch in loader {
            clips += batch.expect("batch").labels.len();
        }
        epoch += 1;
    }
    clips as f64 / t0.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench and the script passes --run; under `cargo test --all-targets`
    // (no argument) the benchmark is skipped so the test suite stays fast.
    if !std::env::args().any(|a| a == "--bench" || a == "--run") {
        println!("data_loader: skipped (run scripts/bench-loader.sh or cargo bench --bench data_loader)");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("stsm-bench-loader-{}", std::process::id()));
    let root: PathBuf = match std::env::var_os("STSM_BENCH_SYNTH") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cfg = SynthConfig {
                videos_per_class: 4,
                stills_per_class: 1,
                ..SynthConfig::default()
            };
            let t0 = Instant::now();
            let r = generate(&cfg, &tmp.join("synth"), 0, false).expect("synth");
            println!(
                "synth: {} videos, {} frames in {:.1}s",
                r.videos,
                r.frames,
                t0.elapsed().as_secs_f64()
            );
            tmp.join("synth")
        }
    };
    let disc = discover_split(&root.join("videos"), "train", None).expect("discover");
    let frames: usize = disc.videos.iter().map(|v| v.files().len()).sum();
    std::fs::create_dir_all(&tmp).expect("tmp");
    let pack_path = tmp.join("train.stsmpack");
    let t0 = Instant::now();
    pack_dataset(&disc, &pack_path, &PackOptions::default()).expect("pack");
    let pack_s = t0.elapsed().as_secs_f64();
    println!(
        "pack: {} videos, {frames} frames in {pack_s:.2}s ({:.0} frames/s)",
        disc.videos.len(),
        frames as f64 / pack_s
    );
    let t0 = Instant::now();
    let pack: Arc<dyn VideoSource> = Arc::new(Pack::open(&pack_path).expect("open"));
    println!("open + verify pack: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    let folders: Arc<dyn VideoSource> = Arc::new(FolderSource::new(disc, None, Interp::Bilinear).expect("folders"));

    let budget = Duration::from_secs_f64(
        std::env::var("STSM_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    );
    let base = LoaderConfig {
        batch: 8,
        workers: 0,
        prefetch: 2,
        spec: ClipSpec {
            len: 16,
            padding: Padding::Black,
        },
        augment: AugmentConfig::scaled(72, 64),
        mode: AugMode::Train { seed: 0, epoch: 0 },
        drop_last: false,
    };
    println!("clips of 3x16x64x64 from 72x72 frames, batch 8");
    println!(
        "train = flip, rotate, crop, colour jitter; eval = resize + centre crop; threads 0 = no background thread"
    );
    println!("{:<14} {:<6} {:>8} {:>10}", "source", "mode", "threads", "clips/s");
    for (name, source) in [("frame folders", &folders), ("pack (mmap)", &pack)] {
        for (mode_name, mode) in [("eval", AugMode::Eval), ("train", base.mode)] {
            for workers in [0, 1, 2] {
                let cfg = LoaderConfig {
                    workers,
                    mode,
                    ..base.clone()
                };
                let rate = clips_per_second(source.clone(), &cfg, budget);
                println!("{name:<14} {mode_name:<6} {workers:>8} {rate:>10.1}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

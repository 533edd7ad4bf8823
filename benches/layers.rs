//! Kernel micro-benchmarks on the real C3D shapes: `cargo bench --bench layers [FILTER]`.
//!
//! One criterion benchmark per workload of `stsm_engine::workloads` (the same definitions that
//! `stsm-engine bench` and `scripts/bench-vs-torch.sh` run): every C3D conv layer at batch 1,
//! forward and forward + backward, the two max pools (forward + backward) and the tiny-c3d training
//! step at batch 8; the full C3D step (batch 1, seconds per run) only with `STSM_BENCH_C3D_STEP=1`.
//! Criterion's throughput line reads Gelem/s = GFLOP/s for convs and steps (FLOPs = 2 × MACs over
//! all kernel taps, padding included) and GB/s for pools (bytes read + written). After the runs a
//! summary table gives each workload's median time, its rate and the fraction of this machine's
//! nominal peak (`workloads::PEAK_GFLOPS`). Threads: `RAYON_NUM_THREADS`, else one per core.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use stsm_engine::workloads::{self, Spec, Workload, PEAK_GFLOPS};

const SAMPLES: usize = 10;

/// The same allocator as the `stsm-engine` binary (large buffers on transparent huge pages), so
/// these figures match `stsm-engine bench` and `scripts/bench-vs-torch.sh`.
#[global_allocator]
static ALLOCATOR: stsm_engine::hugepages::HugePages = stsm_engine::hugepages::HugePages;

fn selected() -> Vec<Workload> {
    let c3d_step = std::env::var_os("STSM_BENCH_C3D_STEP").is_some_and(|v| v != "0");
    workloads::all()
        .into_iter()
        .filter(|w| match &w.spec {
            Spec::Conv { input, .. } => input[0] == 1,
            Spec::MaxPool { .. } => true,
            Spec::TrainStep { model, .. } => model != "c3d" || c3d_step,
        })
        .collect()
}

fn main() {
    let threads = stsm_engine::runtime::init_cpu_threads(None).expect("compute threads");
    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    // Per-iteration seconds of every call criterion made, per workload; the last SAMPLES calls are
    // the measurement (the earlier ones are its warm-up).
    let times: RefCell<BTreeMap<String, Vec<f64>>> = RefCell::default();
    let list = selected();
    for w in &list {
        let mut g = c.benchmark_group("layers");
        g.sampling_mode(SamplingMode::Flat);
        g.throughput(match w.unit {
            "GB/s" => Throughput::BytesDecimal(w.work as u64),
            _ => Throughput::Elements(w.work as u64),
        });
        // Built on first use, so that workloads the filter skips allocate nothing.
        let mut run = None;
        g.bench_function(&w.name, |b| {
            let run = run.get_or_insert_with(|| {
                let mut f = workloads::prepare(w).expect("workload builds");
                f().expect("warm-up run");
                f
            });
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    run().expect("workload runs");
                }
                let elapsed = start.elapsed();
                let per = elapsed.as_secs_f64() / iters.max(1) as f64;
                times.borrow_mut().entry(w.name.clone()).or_default().push(per);
                elapsed
            })
        });
        g.finish();
    }
    c.final_summary();

    let times = times.into_inner();
    if times.is_empty() {
        return; // --list, or every workload filtered out
    }
    println!("\nsummary ({threads} threads; % peak of {PEAK_GFLOPS} GFLOP/s)");
    println!(
        "{:<22} {:>10} {:>9} {:<7} {:>7}",
        "workload", "median ms", "rate", "", "% peak"
    );
    for w in &list {
        let Some(all) = times.get(&w.name) else { continue };
        let mut s = all[all.len().saturating_sub(SAMPLES)..].to_vec();
        s.sort_by(f64::total_cmp);
        let median = if s.len() % 2 == 1 {
            s[s.len() / 2]
        } else {
            0.5 * (s[s.len() / 2 - 1] + s[s.len() / 2])
        };
        let rate = w.rate(median);
        let peak = w.percent_of_peak(rate).map_or("-".into(), |p| format!("{p:.0}"));
        println!(
            "{:<22} {:>10.2} {:>9.1} {:<7} {:>7}",
            w.name,
            median * 1e3,
            rate,
            w.unit,
            peak
        );
    }
}

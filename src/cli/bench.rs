//! `stsm-engine bench`: runs the named performance workloads (see `crate::workloads`) and
//! prints the best time of several runs; `--list` prints them as JSON for scripts.

use std::time::Instant;

use clap::Args;

use crate::error::Result;
use crate::workloads;

/// Nominal fp32 peak of the 2-core development machine (AVX2 + FMA), GFLOP/s.
const PEAK_GFLOPS: f64 = 205.0;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Workloads to run (default: all). See --list.
    workloads: Vec<String>,
    /// Timed runs per workload (after one warm-up); the best is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Print the workload table as JSON and exit.
    #[arg(long)]
    list: bool,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.list {
        let json = serde_json::to_string_pretty(&workloads::all())
            .map_err(|e| crate::Error::argument("bench", format!("cannot encode workloads: {e}")))?;
        println!("{json}");
        return Ok(());
    }
    let chosen = if args.workloads.is_empty() {
        workloads::all()
    } else {
        args.workloads
            .iter()
            .map(|n| workloads::find(n))
            .collect::<Result<_>>()?
    };
    println!(
        "{:<22} {:>10} {:>12} {:>8}   ({} threads)",
        "workload",
        "best ms",
        "rate",
        "% peak",
        rayon::current_num_threads()
    );
    for w in chosen {
        let mut run = workloads::prepare(&w)?;
        run()?; // warm-up: workspaces, page faults
        let mut best = f64::INFINITY;
        for _ in 0..args.repeat.max(1) {
            let start = Instant::now();
            run()?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        let rate = w.work / best / 1e9;
        let peak = if w.unit == "GFLOP/s" {
            format!("{:.0}", 100.0 * rate / PEAK_GFLOPS)
        } else {
            "-".into()
        };
        println!(
            "{:<22} {:>10.2} {:>7.1} {:<5} {:>7}",
            w.name,
            best * 1e3,
            rate,
            w.unit.trim_end_matches("/s"),
            peak
        );
    }
    if let Some(peak) = workloads::peak_rss_bytes() {
        println!("peak resident memory: {:.0} MiB", peak as f64 / (1 << 20) as f64);
    }
    Ok(())
}

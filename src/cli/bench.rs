//! `stsm-engine bench`: runs the named performance workloads (see `crate::workloads`) and
//! prints the best time of several runs, the rate and each workload's peak resident memory;
//! `--json` prints the same for scripts, `--list` prints the workloads themselves as JSON.
//! `--device cuda --precision bf16|fp32 --batch N` times the C3D conv layers on a GPU (or the
//! emulated one, with `--tiny`), with device events where the device has them.

use std::time::Instant;

use clap::Args;
use serde::Serialize;

use crate::backend::cuda::device::{ensure_usable, launcher_for};
use crate::error::Result;
use crate::tensor::Device;
use crate::workloads::{self, Precision, Workload};

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
    /// Print the results as one JSON object (for scripts) instead of a table.
    #[arg(long)]
    json: bool,
    /// Where to run: cpu, cuda, cuda:N or cuda-emu (a build with --features cuda-emulation).
    #[arg(long, default_value = "cpu")]
    device: Device,
    /// fp32, or bf16 (the tensor-core conv kernels on channels-last tensors; CUDA devices only).
    #[arg(long, default_value = "fp32")]
    precision: Precision,
    /// Run every C3D conv layer at this batch size (forward, and forward + backward) instead of
    /// the default list; names then end in `-bN`.
    #[arg(long)]
    batch: Option<usize>,
    /// With --batch: the layers shrunk for the emulated device (channels ÷ 16, T/H/W ÷ 8).
    #[arg(long, requires = "batch")]
    tiny: bool,
    /// Measure the f32 FMA peak (GFLOP/s on the compute threads) of every SIMD level this CPU
    /// has with a short FMA-chain probe, print it (as JSON with --json) and exit.
    #[arg(long)]
    fma_peak: bool,
}

/// `--fma-peak`: the probe's GFLOP/s per level, and the level in use.
fn fma_peak(json: bool) -> Result<()> {
    use crate::backend::cpu::fast::{fma_peak, isa};
    let threads = rayon::current_num_threads();
    let peaks: Vec<(&'static str, f64)> = isa::CpuIsa::supported_levels()
        .into_iter()
        .rev()
        .filter_map(|l| fma_peak::gflops(l).map(|g| (l.name(), g)))
        .collect();
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            peaks.iter().map(|&(n, g)| (n.to_string(), g.into())).collect();
        let report = serde_json::json!({ "threads": threads, "cpu_isa": isa::active().name(), "fma_peak_gflops": map });
        println!("{report}");
    } else {
        println!("{}", isa::describe());
        let list: Vec<String> = peaks.iter().map(|(n, g)| format!("{n} {g:.0} GFLOP/s")).collect();
        println!(
            "f32 FMA peak on {threads} threads: {}",
            if list.is_empty() {
                "no FMA level".into()
            } else {
                list.join(", ")
            }
        );
    }
    Ok(())
}

/// One workload's result; `--json` prints `{"threads", "cpu_isa", "peak_rss_is_per_workload", "results": [..]}`.
#[derive(Serialize)]
struct Measured {
    name: String,
    best_ms: f64,
    /// In `unit`: work / best time.
    rate: f64,
    unit: &'static str,
    percent_of_peak: Option<f64>,
    threads: usize,
    /// Peak resident memory while this workload was prepared, warmed up and timed (see
    /// `peak_rss_is_per_workload`).
    peak_rss_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Report {
    device: String,
    precision: Precision,
    /// "device events" or "host clock".
    timer: &'static str,
    threads: usize,
    /// The fast CPU path's SIMD level (`--cpu-isa`): avx512, avx2 or portable.
    cpu_isa: &'static str,
    /// True when the peak mark was reset before each workload (Linux): then every
    /// `peak_rss_bytes` is the process's peak during that workload (including the few MiB the
    /// process holds anyway). False: it is the process's peak since start.
    peak_rss_is_per_workload: bool,
    results: Vec<Measured>,
}

/// One timed run in seconds: between device events where the device has them (a GPU), else
/// by the host clock (launches are synchronous, so the work is done when `run` returns).
/// Returns whether the device timed it.
fn time_once(device: Device, run: &mut dyn FnMut() -> Result<()>) -> Result<(f64, bool)> {
    let start = Instant::now();
    let on_device = match device {
        Device::Cpu => {
            run()?;
            None
        }
        _ => launcher_for(device)?.time_on_device(run)?,
    };
    Ok(match on_device {
        Some(ms) => (ms / 1e3, true),
        None => (start.elapsed().as_secs_f64(), false),
    })
}

fn measure(w: &Workload, args: &BenchArgs, threads: usize) -> Result<(Measured, bool, bool)> {
    // What the previous workload freed would otherwise stay resident and count in this peak.
    crate::hugepages::release_free_memory();
    let per_workload = workloads::reset_peak_rss();
    let mut device_timed = true;
    let best = {
        let mut run = workloads::prepare_on(w, args.device, args.precision)?;
        run()?; // warm-up: workspaces, page faults, kernel compilation
        let mut best = f64::INFINITY;
        for _ in 0..args.repeat.max(1) {
            let (seconds, by_device) = time_once(args.device, &mut run)?;
            device_timed &= by_device;
            best = best.min(seconds);
        }
        best
    };
    let rate = w.rate(best);
    let percent_of_peak = match (args.device, args.precision) {
        (Device::Cpu, _) => w.percent_of_peak(rate),
        // Against the bf16 matrix product measured on the H100 (DESIGN.md).
        (Device::Cuda(_), Precision::Bf16) if w.unit == "GFLOP/s" => {
            Some(100.0 * rate / workloads::H100_BF16_MATMUL_GFLOPS)
        }
        _ => None,
    };
    let m = Measured {
        name: w.name.clone(),
        best_ms: best * 1e3,
        rate,
        unit: w.unit,
        percent_of_peak,
        threads,
        peak_rss_bytes: workloads::peak_rss_bytes(),
    };
    Ok((m, per_workload, device_timed))
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.0}", b as f64 / (1u64 << 20) as f64))
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.fma_peak {
        return fma_peak(args.json);
    }
    let listed = match args.batch {
        Some(0) => return Err(crate::Error::argument("--batch", "must be at least 1")),
        Some(batch) => workloads::c3d_convs(batch, args.tiny),
        None => workloads::all(),
    };
    if args.list {
        let json = serde_json::to_string_pretty(&listed)
            .map_err(|e| crate::Error::argument("bench", format!("cannot encode workloads: {e}")))?;
        println!("{json}");
        return Ok(());
    }
    let chosen = if args.workloads.is_empty() {
        listed
    } else {
        args.workloads
            .iter()
            .map(|n| workloads::find_in(listed.clone(), n))
            .collect::<Result<_>>()?
    };
    ensure_usable(args.device)?;
    let threads = rayon::current_num_threads();
    if !args.json {
        println!("{}", crate::backend::cpu::fast::isa::describe());
        println!(
            "{:<22} {:>10} {:>9} {:<7} {:>7} {:>9}   ({}, {}, {threads} threads, best of {})",
            "workload",
            "best ms",
            "rate",
            "unit",
            "% peak",
            "peak MiB",
            args.device,
            args.precision,
            args.repeat.max(1)
        );
    }
    let mut report = Report {
        device: args.device.to_string(),
        precision: args.precision,
        timer: "device events",
        threads,
        cpu_isa: crate::backend::cpu::fast::isa::active().name(),
        peak_rss_is_per_workload: true,
        results: Vec::new(),
    };
    for w in chosen {
        let (m, per_workload, device_timed) = measure(&w, args, threads)?;
        report.peak_rss_is_per_workload &= per_workload;
        if !device_timed {
            report.timer = "host clock";
        }
        if !args.json {
            println!(
                "{:<22} {:>10.2} {:>9.1} {:<7} {:>7} {:>9}",
                m.name,
                m.best_ms,
                m.rate,
                m.unit,
                m.percent_of_peak.map_or("-".into(), |p| format!("{p:.0}")),
                mib(m.peak_rss_bytes)
            );
        }
        report.results.push(m);
    }
    if !args.json && args.device != Device::Cpu {
        println!(
            "timed with {}; % peak: of the 798 TFLOP/s bf16 matrix product measured on the H100 (bf16 on cuda only)",
            report.timer
        );
    }
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| crate::Error::argument("bench", format!("cannot encode results: {e}")))?;
        println!("{json}");
    } else if report.peak_rss_is_per_workload {
        println!(
            "peak MiB: peak resident memory of the process while that workload alone was set up, warmed \
             up and timed (e.g. c3d-step-b1: a full C3D training step)"
        );
    } else {
        println!("peak MiB: peak resident memory of the process since it started (cannot reset the mark here)");
    }
    Ok(())
}

//! Command-line interface: one file per subcommand, each with its clap `Args` and a `run`.

mod bench;
mod checkpoint_args;
mod demo;
mod device_arg;
mod eval;
mod inflate;
mod info;
mod pack;
mod parity;
mod predict;
mod pretrain;
mod report;
mod scoring_args;
mod sweep;
mod synth;
mod train;

use clap::{Parser, Subcommand};

use crate::error::Result;

#[derive(Parser)]
#[command(
    name = "stsm-engine",
    version,
    about = "Train and run 3D CNNs on video with temporal stochastic softmax (Ayral et al., WACV 2021).",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// CPU compute threads (default: RAYON_NUM_THREADS, else one per core). Results are
    /// bit-for-bit reproducible for a given thread count.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Use the plain reference loops instead of the fast CPU path (slow; for debugging).
    #[arg(long, global = true)]
    reference_cpu: bool,
    /// SIMD kernels of the fast CPU path: auto (the best this CPU has), avx512, avx2 or portable
    /// (default: the STSM_CPU_ISA environment variable, else auto). A level the CPU lacks is an
    /// error.
    #[arg(long, global = true, value_name = "LEVEL")]
    cpu_isa: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a tiny 3D CNN on random clips and print the falling loss: a smoke test of the engine.
    Demo(demo::DemoArgs),
    /// Time the performance workloads (C3D layers, pools, training steps) on this machine.
    Bench(bench::BenchArgs),
    /// Evaluate a checkpoint or a run on a dataset split: accuracy, confusion, recall (and ROC).
    Eval(eval::EvalArgs),
    /// Show a model's layers, output shapes, parameter count and FLOPs per clip.
    Info(info::InfoArgs),
    /// Run the full-size PyTorch parity clip through C3D or VGG-3D (closed-form weights).
    Parity(parity::ParityArgs),
    /// Score one video (a folder of frames) with a checkpoint: class probabilities, predicted label.
    Predict(predict::PredictArgs),
    /// Pretrain a 2D model on still images (then `inflate` it into a 3D initialisation).
    Pretrain(pretrain::PretrainArgs),
    /// Inflate a 2D checkpoint into a 3D one (repeat each kernel along time and divide, or centre).
    Inflate(inflate::InflateArgs),
    /// Train with temporal stochastic softmax (default: a small model on the synthetic benchmark).
    Train(train::TrainArgs),
    /// Run the γ × sampler × seed grid (resumable) and print the paper's Table 1 layout.
    Sweep(sweep::SweepArgs),
    /// Render the paper's tables (markdown) from a sweep, protocol run or grid of them; partial
    /// directories count their finished runs only.
    Report(report::ReportArgs),
    /// Write the synthetic FER benchmark (frame folders, manifest, ground truth, stills).
    Synth(synth::SynthArgs),
    /// Decode a frame-folder dataset once into a packed, memory-mapped file.
    Pack(pack::PackArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    crate::runtime::init_cpu_threads(cli.threads)?;
    use crate::backend::cpu::fast::isa::{self, CpuIsa};
    let level = match &cli.cpu_isa {
        Some(text) => isa::resolve(CpuIsa::parse(text, "--cpu-isa")?, "--cpu-isa")?,
        None => isa::from_env()?,
    };
    isa::set_active(level)?;
    if cli.reference_cpu {
        crate::backend::set_cpu_kind(crate::backend::CpuKind::Reference);
    }
    match cli.command {
        Command::Bench(args) => bench::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Inflate(args) => inflate::run(&args),
        Command::Parity(args) => parity::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Pretrain(args) => pretrain::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Pack(args) => pack::run(&args),
    }
}

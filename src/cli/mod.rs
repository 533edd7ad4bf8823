//! Command-line interface: one file per subcommand, each with its clap `Args` and a `run`.

mod demo;
mod pack;
mod synth;

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
}

#[derive(Subcommand)]
enum Command {
    /// Train a tiny 3D CNN on random clips and print the falling loss: a smoke test of the engine.
    Demo(demo::DemoArgs),
    /// Write the synthetic FER benchmark (frame folders, manifest, ground truth, stills).
    Synth(synth::SynthArgs),
    /// Decode a frame-folder dataset once into a packed, memory-mapped file.
    Pack(pack::PackArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Pack(args) => pack::run(&args),
    }
}

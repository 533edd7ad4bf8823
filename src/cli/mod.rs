//! Command-line interface: one file per subcommand, each with its clap `Args` and a `run`.

mod demo;
mod inflate;
mod info;

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
    /// Show a model's layers, output shapes, parameter count and FLOPs per clip.
    Info(info::InfoArgs),
    /// Inflate a 2D checkpoint into a 3D one (repeat each kernel along time and divide, or centre).
    Inflate(inflate::InflateArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Inflate(args) => inflate::run(&args),
    }
}

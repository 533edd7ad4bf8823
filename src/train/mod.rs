//! Training: the temporal stochastic softmax loop, its schedules and the run directory.

pub mod config;
pub mod dataset;
pub mod lock;
pub mod metrics;
pub mod pictures;
pub mod pretrain;
pub mod protocol;
pub mod report;
pub mod schedule;
pub mod state;
pub mod sweep;
pub mod trainer;

pub use config::TrainConfig;
pub use trainer::{evaluate_run, run, RunOptions, RunSummary};

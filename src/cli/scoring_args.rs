//! The scoring flags shared by `eval` and `predict`: how the window scores are pooled, the
//! window stride, and where to run.

use clap::Args;

use crate::error::Result;
use crate::infer::pooling::Pooling;
use crate::tensor::Device;

#[derive(Args, Debug)]
pub struct ScoringArgs {
    /// Temporal pooling of the window scores: softmax (with --gamma), mean, or max.
    #[arg(long, default_value = "softmax")]
    pub pool: String,
    /// Softmax pooling γ (default: the checkpoint's).
    #[arg(long)]
    pub gamma: Option<f64>,
    /// C3D window stride (VGG-style models score every window in one pass).
    #[arg(long, default_value_t = 1)]
    pub stride: usize,
    /// Where to run: cpu, cuda, cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
}

impl ScoringArgs {
    /// The pooling these flags choose, γ defaulting to `default_gamma` (the checkpoint's).
    pub fn pooling(&self, default_gamma: f64) -> Result<Pooling> {
        Pooling::parse(&self.pool, self.gamma.unwrap_or(default_gamma))
    }
}

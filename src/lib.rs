//! stsm-engine: train and run 3D CNNs on video with temporal stochastic softmax
//! (Ayral et al., WACV 2021). Tensors, an op interface with a CPU reference backend, our own
//! autograd, layers and an SGD optimizer.

pub mod autograd;
pub mod backend;
pub mod cli;
pub mod data;
pub mod error;
pub mod fsutil;
pub mod hugepages;
pub mod infer;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod report;
pub mod resources;
pub mod runtime;
pub mod sampling;
pub mod tensor;
pub mod train;
pub mod workloads;

pub use autograd::{Gradients, Param, Tape, Var};
pub use error::{Error, Result};
pub use tensor::{DType, Device, Tensor};

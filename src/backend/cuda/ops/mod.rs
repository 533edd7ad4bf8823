//! `CudaBackend`: the `Backend` trait on CUDA (or emulated CUDA) tensors. Stateless — each
//! op runs on the launcher that owns its input's storage — so one value serves every device.
//! One file of launchers per kernel file, which also implements that op family for
//! `CudaBackend`; every op runs its kernel (none falls back to the host).

pub mod common;
pub mod conv3d;
pub mod dense;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod optim;
pub mod pool3d;
pub mod temporal;

use crate::backend::Backend;

pub struct CudaBackend;

impl Backend for CudaBackend {
    fn name(&self) -> &'static str {
        "cuda"
    }
}

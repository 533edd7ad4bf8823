//! The reference CPU backend: obviously-correct loops, generic over f32 and f64. Slow on
//! purpose; every faster path and every CUDA kernel is compared against it.

pub mod conv3d;
pub mod dense;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod optim;
pub mod pool3d;
pub mod temporal;

use crate::backend::Backend;

pub struct CpuReference;

impl Backend for CpuReference {
    fn name(&self) -> &'static str {
        "cpu-reference"
    }
}

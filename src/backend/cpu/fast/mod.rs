//! The fast CPU backend, multi-threaded with rayon: GEMM-based conv3d and linear (f32 and f64,
//! the latter for full-size parity checks), pooling and elementwise ops split over planes or
//! chunks (f32). Results are bit-for-bit reproducible for a given thread count: work is split
//! into disjoint outputs, and every sum runs in a fixed order. Each op family is implemented
//! in the file (or folder) of its name; ops without a fast version call the reference loops
//! there, which remain the oracle this backend is tested against.

pub mod conv3d;
pub mod dense;
pub mod elementwise;
pub mod fma_peak;
pub mod gemm;
pub mod isa;
pub mod layout;
pub mod loss;
pub mod microkernel;
pub mod optim;
pub mod pool3d;
pub mod send_ptr;
pub mod sgd;
pub mod temporal;
pub mod workspace;

use crate::backend::Backend;

pub struct CpuFast;

impl Backend for CpuFast {
    fn name(&self) -> &'static str {
        "cpu-fast"
    }
}

//! The fast conv3d paths, one file each: `im2col` (im2col + GEMM, any float type, and the tap
//! helpers the other paths share), `packed` (register-tiled f32 forward and input gradient),
//! `packed_wgrad` (its weight gradient), `padded_panels` (the packed path's panels read from a
//! padded copy of the input) and `direct` (AVX2 direct convolution of narrow layers).

#[cfg(target_arch = "x86_64")]
pub mod direct;
pub mod im2col;
pub mod packed;
pub mod packed_wgrad;
pub mod padded_panels;

pub use im2col::{bias_backward, forward, weight_backward, x_backward};

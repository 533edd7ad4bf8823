//! The fast conv3d: the choice of path for each call (here) and the paths, one file each:
//! `im2col` (im2col + GEMM, any float type, and the tap helpers the other paths share), `packed`
//! (register-tiled f32 forward and input gradient), `packed_wgrad` (its weight gradient),
//! `padded_panels` (the packed path's panels read from a padded copy of the input) and `direct`
//! (AVX2 direct convolution of narrow layers). Dependencies point one way: this file uses the
//! paths, and no path uses this file.

#[cfg(target_arch = "x86_64")]
pub mod direct;
pub mod im2col;
pub mod packed;
pub mod packed_wgrad;
pub mod padded_panels;

use super::gemm::FastFloat;
use super::microkernel::has_avx2_fma;
use super::workspace::Scratch;
use crate::tensor::geometry::Conv3dGeometry;

use crate::backend::cpu::fast::CpuFast;
use crate::backend::cpu::optional;
use crate::backend::Conv3dOps;
use crate::error::Result;
use crate::tensor::Tensor;
pub use im2col::bias_backward;

/// The float types of the fast conv3d, each choosing its SIMD paths; a `None` from a hook means
/// the im2col + GEMM path.
pub trait ConvFloat: FastFloat + Scratch {
    /// Conv3d forward on a SIMD path (`direct.rs` or `packed.rs`), where this type, CPU and
    /// geometry have one.
    fn simd_forward(_x: &[Self], _w: &[Self], _bias: Option<&[Self]>, _g: &Conv3dGeometry) -> Option<Vec<Self>> {
        None
    }

    /// Conv3d input gradient on a SIMD path (the convolution of gy with the flipped weights, on
    /// `direct.rs` or `packed.rs`), where this type, CPU and geometry have one.
    fn simd_x_backward(_gy: &[Self], _w: &[Self], _g: &Conv3dGeometry) -> Option<Vec<Self>> {
        None
    }

    /// Conv3d weight gradient on a SIMD path (`direct.rs` or `packed_wgrad.rs`), where this type,
    /// CPU and geometry have one.
    fn simd_weight_backward(_gy: &[Self], _x: &[Self], _g: &Conv3dGeometry) -> Option<Vec<Self>> {
        None
    }
}

impl ConvFloat for f32 {
    fn simd_forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Conv3dGeometry) -> Option<Vec<f32>> {
        if !has_avx2_fma() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if direct::applies(g) {
            return Some(direct::forward(x, w, bias, g));
        }
        packed::pays_off(g).then(|| packed::forward(x, w, bias, g))
    }

    fn simd_x_backward(gy: &[f32], w: &[f32], g: &Conv3dGeometry) -> Option<Vec<f32>> {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            if let Some(gx) = direct::x_backward(gy, w, g) {
                return Some(gx);
            }
        }
        let worth = packed::transposed(g).is_some_and(|t| packed::pays_off(&t));
        (has_avx2_fma() && worth)
            .then(|| packed::x_backward(gy, w, g))
            .flatten()
    }

    fn simd_weight_backward(gy: &[f32], x: &[f32], g: &Conv3dGeometry) -> Option<Vec<f32>> {
        if !has_avx2_fma() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if direct::applies(g) {
            return Some(direct::weight_backward(gy, x, g));
        }
        packed_wgrad::pays_off(g).then(|| packed_wgrad::weight_backward(gy, x, g))
    }
}

/// f64 runs for full-size parity checks, always on im2col + GEMM.
impl ConvFloat for f64 {}

/// x: (N, C, T, H, W), w: (O, C, KT, KH, KW), bias: (O) -> (N, O, T', H', W').
pub fn forward<T: ConvFloat>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Conv3dGeometry) -> Vec<T> {
    T::simd_forward(x, w, bias, g).unwrap_or_else(|| im2col::forward(x, w, bias, g))
}

/// gy: (N, O, T', H', W'), w: (O, C, KT, KH, KW) -> gx: (N, C, T, H, W).
pub fn x_backward<T: ConvFloat>(gy: &[T], w: &[T], g: &Conv3dGeometry) -> Vec<T> {
    T::simd_x_backward(gy, w, g).unwrap_or_else(|| im2col::x_backward(gy, w, g))
}

/// gy: (N, O, T', H', W'), x: (N, C, T, H, W) -> gw: (O, C, KT, KH, KW).
pub fn weight_backward<T: ConvFloat>(gy: &[T], x: &[T], g: &Conv3dGeometry) -> Vec<T> {
    T::simd_weight_backward(gy, x, g).unwrap_or_else(|| im2col::weight_backward(gy, x, g))
}

impl Conv3dOps for CpuFast {
    fn conv3d_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d";
        with_float!(OP, x, |T| {
            let y = forward::<T>(x.as_slice(OP)?, w.as_slice(OP)?, optional(bias, OP)?, g);
            Tensor::from_vec(&g.output_dims(), y)
        })
    }

    fn conv3d_x_backward(&self, gy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_x_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.input_dims(),
            x_backward::<T>(gy.as_slice(OP)?, w.as_slice(OP)?, g)
        ))
    }

    fn conv3d_weight_backward(&self, gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_weight_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.weight_dims(),
            weight_backward::<T>(gy.as_slice(OP)?, x.as_slice(OP)?, g)
        ))
    }

    fn conv3d_bias_backward(&self, gy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_bias_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[g.out_channels],
            bias_backward::<T>(gy.as_slice(OP)?, g)
        ))
    }
}

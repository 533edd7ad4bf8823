//! Launchers of kernels/conv3d.cu: implicit-GEMM forward, gather input gradient, weight and
//! bias gradients.

use super::common::{self as c, empty, launch, ptr};
use crate::backend::cuda::params::{Conv3dParams, KernelFloat};
use crate::error::Result;
use crate::ops::geometry::Conv3dGeometry;
use crate::tensor::Tensor;

fn params<T: KernelFloat>(g: &Conv3dGeometry, op: &'static str) -> Result<Conv3dParams<T>> {
    // Every index the kernels form is below the largest tensor's element count.
    for n in [g.input_dims(), g.output_dims(), g.weight_dims()] {
        c::i32_of(n.iter().product(), op)?;
    }
    c::i32_of(g.in_channels * g.kernel.iter().product::<usize>() * g.out_channels, op)?;
    let i = |v: usize| v as i32;
    Ok(Conv3dParams {
        batch: i(g.batch),
        in_ch: i(g.in_channels),
        out_ch: i(g.out_channels),
        in_t: i(g.input[0]),
        in_h: i(g.input[1]),
        in_w: i(g.input[2]),
        k_t: i(g.kernel[0]),
        k_h: i(g.kernel[1]),
        k_w: i(g.kernel[2]),
        s_t: i(g.stride[0]),
        s_h: i(g.stride[1]),
        s_w: i(g.stride[2]),
        p_t: i(g.padding[0]),
        p_h: i(g.padding[1]),
        p_w: i(g.padding[2]),
        out_t: i(g.output[0]),
        out_h: i(g.output[1]),
        out_w: i(g.output[2]),
        ..Default::default()
    })
}

fn taps(g: &Conv3dGeometry) -> usize {
    g.kernel.iter().product()
}

pub fn forward<T: KernelFloat>(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Conv3dGeometry) -> Result<Tensor> {
    const OP: &str = "conv3d";
    let l = c::launcher(x, OP)?;
    let y = empty(&l, &g.output_dims(), T::DTYPE)?;
    let p = Conv3dParams::<T> {
        x: ptr(x, OP)?,
        w: ptr(w, OP)?,
        b: c::opt_ptr(bias, OP)?,
        out: ptr(&y, OP)?,
        ..params(g, OP)?
    };
    let plane: usize = g.output.iter().product();
    // SAFETY: x, w, bias and y have the shapes of `g` (checked by crate::ops).
    unsafe { launch::<T, _>(&l, "conv3d_fwd", c::gemm(g.out_channels, g.batch * plane), &p)? };
    Ok(y)
}

pub fn x_backward<T: KernelFloat>(gy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
    const OP: &str = "conv3d_x_backward";
    let l = c::launcher(gy, OP)?;
    let gx = empty(&l, &g.input_dims(), T::DTYPE)?;
    let p = Conv3dParams::<T> {
        gy: ptr(gy, OP)?,
        w: ptr(w, OP)?,
        out: ptr(&gx, OP)?,
        ..params(g, OP)?
    };
    let plane: usize = g.input.iter().product();
    // SAFETY: as in forward.
    unsafe { launch::<T, _>(&l, "conv3d_xbwd", c::gemm(g.in_channels, g.batch * plane), &p)? };
    Ok(gx)
}

pub fn weight_backward<T: KernelFloat>(gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
    const OP: &str = "conv3d_weight_backward";
    let l = c::launcher(gy, OP)?;
    let gw = empty(&l, &g.weight_dims(), T::DTYPE)?;
    let p = Conv3dParams::<T> {
        gy: ptr(gy, OP)?,
        x: ptr(x, OP)?,
        out: ptr(&gw, OP)?,
        ..params(g, OP)?
    };
    // SAFETY: as in forward.
    unsafe { launch::<T, _>(&l, "conv3d_wbwd", c::gemm(g.out_channels, g.in_channels * taps(g)), &p)? };
    Ok(gw)
}

pub fn bias_backward<T: KernelFloat>(gy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
    const OP: &str = "conv3d_bias_backward";
    let l = c::launcher(gy, OP)?;
    let gb = empty(&l, &[g.out_channels], T::DTYPE)?;
    let p = Conv3dParams::<T> {
        gy: ptr(gy, OP)?,
        out: ptr(&gb, OP)?,
        ..params(g, OP)?
    };
    // SAFETY: as in forward.
    unsafe { launch::<T, _>(&l, "conv3d_bbwd", c::per_row::<T>(g.out_channels), &p)? };
    Ok(gb)
}

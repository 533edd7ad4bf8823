//! Launchers of kernels/conv3d.cu: implicit-GEMM forward, gather input gradient, weight and
//! bias gradients.

use super::common::by_dtype;
use super::common::{self as c, empty, launch, ptr};
use super::CudaBackend;
use crate::backend::cuda::launcher::LaunchConfig;
use crate::backend::cuda::params::{Conv3dParams, KernelFloat};
use crate::backend::Conv3dOps;
use crate::error::Result;
use crate::tensor::geometry::Conv3dGeometry;
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

/// Work items (GEMM tiles × K slices) that keep a large GPU busy: about two waves of blocks
/// on 132 SMs.
const TARGET_BLOCKS: usize = 264;
/// A K slice shorter than this costs more in partial traffic than it gains.
const MIN_SLICE: usize = 512;

/// K slices for the weight gradient: enough tiles × slices to fill the GPU, each slice at
/// least MIN_SLICE long; 1 (no workspace) when the output alone has enough tiles.
pub fn weight_backward_splits(g: &Conv3dGeometry) -> usize {
    let tiles = g.out_channels.div_ceil(c::GEMM_TILE) * (g.in_channels * taps(g)).div_ceil(c::GEMM_TILE);
    let k = g.batch * g.output.iter().product::<usize>();
    TARGET_BLOCKS.div_ceil(tiles).clamp(1, k.div_ceil(MIN_SLICE).max(1))
}

pub fn weight_backward<T: KernelFloat>(gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
    weight_backward_split::<T>(gy, x, g, weight_backward_splits(g))
}

/// The weight gradient with the reduction over output positions cut into `splits` slices
/// (split-K), summed in slice order by a second kernel. Public so tests can force any split.
pub fn weight_backward_split<T: KernelFloat>(
    gy: &Tensor,
    x: &Tensor,
    g: &Conv3dGeometry,
    splits: usize,
) -> Result<Tensor> {
    const OP: &str = "conv3d_weight_backward";
    let l = c::launcher(gy, OP)?;
    let gw = empty(&l, &g.weight_dims(), T::DTYPE)?;
    let (m, n) = (g.out_channels, g.in_channels * taps(g));
    let splits = splits.max(1);
    let workspace = if splits > 1 {
        Some(empty(&l, &[splits, m, n], T::DTYPE)?)
    } else {
        None
    };
    let p = Conv3dParams::<T> {
        gy: ptr(gy, OP)?,
        x: ptr(x, OP)?,
        out: ptr(&gw, OP)?,
        k_splits: c::i32_of(splits, OP)?,
        partial: c::opt_ptr(workspace.as_ref(), OP)?,
        ..params(g, OP)?
    };
    c::i32_of(splits * m * n, OP)?;
    let tiles = m.div_ceil(c::GEMM_TILE) * n.div_ceil(c::GEMM_TILE);
    let cfg = LaunchConfig::linear((tiles * splits).clamp(1, c::MAX_GRID) as u32, c::GEMM_THREADS, 0);
    // SAFETY: as in forward; the workspace holds splits × O × C·KT·KH·KW elements.
    unsafe { launch::<T, _>(&l, "conv3d_wbwd", cfg, &p)? };
    if splits > 1 {
        // SAFETY: as above; the reduction reads the workspace and writes gw.
        unsafe { launch::<T, _>(&l, "conv3d_wbwd_reduce", c::flat(m * n), &p)? };
    }
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

impl Conv3dOps for CudaBackend {
    fn conv3d_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Conv3dGeometry) -> Result<Tensor> {
        by_dtype!("conv3d", x, forward, (x, w, bias, g))
    }

    fn conv3d_x_backward(&self, gy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        by_dtype!("conv3d_x_backward", gy, x_backward, (gy, w, g))
    }

    fn conv3d_weight_backward(&self, gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        by_dtype!("conv3d_weight_backward", gy, weight_backward, (gy, x, g))
    }

    fn conv3d_bias_backward(&self, gy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        by_dtype!("conv3d_bias_backward", gy, bias_backward, (gy, g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::geometry::Conv3dOptions;
    use crate::tensor::Shape;

    fn geometry(x: &[usize], w: &[usize]) -> Conv3dGeometry {
        let same = Conv3dOptions {
            stride: [1; 3],
            padding: [1; 3],
        };
        Conv3dGeometry::new(&Shape::new(x).unwrap(), &Shape::new(w).unwrap(), &same).unwrap()
    }

    #[test]
    fn split_k_only_where_the_output_is_small_and_k_large() {
        // C3D conv1a: gw is 64 × 81 (6 tiles) but K = 16·112·112: split to fill the GPU.
        let conv1a = geometry(&[1, 3, 16, 112, 112], &[64, 3, 3, 3, 3]);
        let s = weight_backward_splits(&conv1a);
        assert!((40..=64).contains(&s), "conv1a splits {s}");
        // C3D conv5b: gw is 512 × 13824 (6912 tiles): no split, no workspace.
        let conv5b = geometry(&[1, 512, 2, 7, 7], &[512, 512, 3, 3, 3]);
        assert_eq!(weight_backward_splits(&conv5b), 1);
        // Tiny K: never more slices than MIN_SLICE-long pieces.
        assert_eq!(weight_backward_splits(&geometry(&[1, 1, 2, 3, 3], &[2, 1, 3, 3, 3])), 1);
    }
}

//! Launchers of kernels/pool3d.cu: max pooling with argmax, average pooling, both backward
//! passes as gathers.

use super::common::by_dtype;
use super::common::{self as c, empty, launch, ptr};
use super::CudaBackend;
use crate::backend::cuda::params::{KernelFloat, Pool3dParams};
use crate::backend::PoolOps;
use crate::error::Result;
use crate::tensor::geometry::Pool3dGeometry;
use crate::tensor::{DType, Tensor};

fn params<T: KernelFloat>(g: &Pool3dGeometry, op: &'static str, count_include_pad: bool) -> Result<Pool3dParams<T>> {
    c::i32_of(g.input_dims().iter().product(), op)?;
    c::i32_of(g.output_dims().iter().product(), op)?;
    let i = |v: usize| v as i32;
    Ok(Pool3dParams {
        planes: i(g.planes),
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
        count_include_pad: count_include_pad as i32,
        ..Default::default()
    })
}

fn numel(d: [usize; 5]) -> usize {
    d.iter().product()
}

pub fn max_forward<T: KernelFloat>(x: &Tensor, g: &Pool3dGeometry) -> Result<(Tensor, Tensor)> {
    const OP: &str = "max_pool3d";
    let l = c::launcher(x, OP)?;
    let y = empty(&l, &g.output_dims(), T::DTYPE)?;
    let arg = empty(&l, &g.output_dims(), DType::U32)?;
    let p = Pool3dParams::<T> {
        x: ptr(x, OP)?,
        out: ptr(&y, OP)?,
        arg_out: ptr(&arg, OP)?,
        ..params(g, OP, false)?
    };
    // SAFETY: x and the outputs have the shapes of `g`.
    unsafe { launch::<T, _>(&l, "max_pool3d_fwd", c::flat(numel(g.output_dims())), &p)? };
    Ok((y, arg))
}

pub fn max_backward<T: KernelFloat>(gy: &Tensor, argmax: &Tensor, g: &Pool3dGeometry) -> Result<Tensor> {
    const OP: &str = "max_pool3d_backward";
    let l = c::launcher(gy, OP)?;
    let gx = empty(&l, &g.input_dims(), T::DTYPE)?;
    let p = Pool3dParams::<T> {
        gy: ptr(gy, OP)?,
        arg: ptr(argmax, OP)?,
        out: ptr(&gx, OP)?,
        ..params(g, OP, false)?
    };
    // SAFETY: as above.
    unsafe { launch::<T, _>(&l, "max_pool3d_bwd", c::flat(numel(g.input_dims())), &p)? };
    Ok(gx)
}

pub fn avg_forward<T: KernelFloat>(x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
    const OP: &str = "avg_pool3d";
    let l = c::launcher(x, OP)?;
    let y = empty(&l, &g.output_dims(), T::DTYPE)?;
    let p = Pool3dParams::<T> {
        x: ptr(x, OP)?,
        out: ptr(&y, OP)?,
        ..params(g, OP, count_include_pad)?
    };
    // SAFETY: as above.
    unsafe { launch::<T, _>(&l, "avg_pool3d_fwd", c::flat(numel(g.output_dims())), &p)? };
    Ok(y)
}

pub fn avg_backward<T: KernelFloat>(gy: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
    const OP: &str = "avg_pool3d_backward";
    let l = c::launcher(gy, OP)?;
    let gx = empty(&l, &g.input_dims(), T::DTYPE)?;
    let p = Pool3dParams::<T> {
        gy: ptr(gy, OP)?,
        out: ptr(&gx, OP)?,
        ..params(g, OP, count_include_pad)?
    };
    // SAFETY: as above.
    unsafe { launch::<T, _>(&l, "avg_pool3d_bwd", c::flat(numel(g.input_dims())), &p)? };
    Ok(gx)
}

impl PoolOps for CudaBackend {
    fn max_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry) -> Result<(Tensor, Tensor)> {
        by_dtype!("max_pool3d", x, max_forward, (x, g))
    }

    fn max_pool3d_backward(&self, gy: &Tensor, argmax: &Tensor, g: &Pool3dGeometry) -> Result<Tensor> {
        by_dtype!("max_pool3d_backward", gy, max_backward, (gy, argmax, g))
    }

    fn avg_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        by_dtype!("avg_pool3d", x, avg_forward, (x, g, count_include_pad))
    }

    fn avg_pool3d_backward(&self, gy: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        by_dtype!("avg_pool3d_backward", gy, avg_backward, (gy, g, count_include_pad))
    }
}

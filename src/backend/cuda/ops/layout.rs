//! Launcher of kernels/layout.cu: axis permutation.

use super::common::by_dtype;
use super::common::{self as c, empty, launch, ptr};
use super::CudaBackend;
use crate::backend::cuda::params::{KernelFloat, PermuteParams};
use crate::backend::LayoutOps;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub fn permute<T: KernelFloat>(x: &Tensor, perm: &[usize]) -> Result<Tensor> {
    const OP: &str = "permute";
    let dims = x.dims();
    if dims.len() > 5 {
        return Err(Error::argument(OP, "the CUDA permute handles rank <= 5"));
    }
    let mut in_strides = vec![1i64; dims.len()];
    for a in (0..dims.len().saturating_sub(1)).rev() {
        in_strides[a] = in_strides[a + 1] * dims[a + 1] as i64;
    }
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let l = c::launcher(x, OP)?;
    let y = empty(&l, &out_dims, T::DTYPE)?;
    let mut p = PermuteParams::<T> {
        x: ptr(x, OP)?,
        out: ptr(&y, OP)?,
        n: x.numel() as i64,
        rank: dims.len() as i32,
        ..Default::default()
    };
    for (a, &src) in perm.iter().enumerate() {
        p.out_dims[a] = c::i32_of(out_dims[a], OP)?;
        p.in_strides[a] = in_strides[src];
    }
    // SAFETY: x and y hold n elements; perm is a permutation (checked by crate::ops).
    unsafe { launch::<T, _>(&l, "permute_fwd", c::flat(x.numel()), &p)? };
    Ok(y)
}

impl LayoutOps for CudaBackend {
    fn permute(&self, x: &Tensor, perm: &[usize]) -> Result<Tensor> {
        by_dtype!("permute", x, permute, (x, perm))
    }
}

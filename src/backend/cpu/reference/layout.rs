//! Axis permutation of a contiguous tensor.

use super::CpuReference;
use crate::backend::LayoutOps;
use crate::error::Result;
use crate::tensor::Tensor;

/// y has dims `dims[perm[i]]`; y[j_0..j_r] = x[i] where i_{perm[a]} = j_a.
pub fn permute<T: Copy>(x: &[T], dims: &[usize], perm: &[usize]) -> Vec<T> {
    let rank = dims.len();
    let mut in_strides = vec![1; rank];
    for a in (0..rank.saturating_sub(1)).rev() {
        in_strides[a] = in_strides[a + 1] * dims[a + 1];
    }
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let mut y = Vec::with_capacity(x.len());
    let mut index = vec![0usize; rank];
    for _ in 0..x.len() {
        let src: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        y.push(x[src]);
        for a in (0..rank).rev() {
            index[a] += 1;
            if index[a] < out_dims[a] {
                break;
            }
            index[a] = 0;
        }
    }
    y
}

impl LayoutOps for CpuReference {
    fn permute(&self, x: &Tensor, perm: &[usize]) -> Result<Tensor> {
        const OP: &str = "permute";
        let dims: Vec<usize> = perm.iter().map(|&p| x.dims()[p]).collect();
        with_float!(OP, x, |T| Tensor::from_vec(
            &dims,
            permute::<T>(x.as_slice(OP)?, x.dims(), perm)
        ))
    }
}

//! Reshape, flatten and axis permutation (the layout changes the models need, e.g. VGG-3D's
//! (N, C, T, H, W) -> (N, T, C, H, W) -> (N·T, C·H·W) per-frame flatten).

use crate::autograd::Var;
use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Checks that `perm` is a permutation of 0..rank.
fn check_perm(x: &Tensor, perm: &[usize]) -> Result<()> {
    let mut seen = vec![false; x.rank()];
    let ok = perm.len() == x.rank()
        && perm
            .iter()
            .all(|&p| p < seen.len() && !std::mem::replace(&mut seen[p], true));
    if !ok {
        return Err(Error::argument(
            "permute",
            format!("{perm:?} is not a permutation of the axes of {}", x.shape()),
        ));
    }
    Ok(())
}

pub fn permute(x: &Tensor, perm: &[usize]) -> Result<Tensor> {
    check_perm(x, perm)?;
    backend::of(x).permute(x, perm)
}

/// The dims of `x` with axes `start..=end` merged into one.
pub fn flattened_dims(dims: &[usize], start: usize, end: usize) -> Result<Vec<usize>> {
    if start > end || end >= dims.len() {
        return Err(Error::argument(
            "flatten",
            format!("axes {start}..={end} out of range for {dims:?}"),
        ));
    }
    let mut out = dims[..start].to_vec();
    out.push(dims[start..=end].iter().product());
    out.extend_from_slice(&dims[end + 1..]);
    Ok(out)
}

impl Var {
    pub fn reshape(&self, dims: &[usize]) -> Result<Var> {
        let y = self.value().reshape(dims)?;
        let in_dims = self.dims().to_vec();
        Ok(self.tape().record("reshape", y, &[self], move |gy, _| {
            Ok(vec![Some(gy.reshape(&in_dims)?)])
        }))
    }

    /// Merges axes `start..=end` into one.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Var> {
        self.reshape(&flattened_dims(self.dims(), start, end)?)
    }

    pub fn permute(&self, perm: &[usize]) -> Result<Var> {
        let y = permute(self.value(), perm)?;
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        Ok(self.tape().record("permute", y, &[self], move |gy, _| {
            Ok(vec![Some(backend::of(gy).permute(gy, &inverse)?)])
        }))
    }
}

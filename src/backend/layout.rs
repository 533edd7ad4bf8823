//! The LayoutOps family of the `Backend` trait: Ops that move elements without computing on them.
//! Each backend implements it in its own `layout` file.

use crate::error::Result;
use crate::tensor::Tensor;

pub trait LayoutOps {
    fn permute(&self, x: &Tensor, perm: &[usize]) -> Result<Tensor>;
}

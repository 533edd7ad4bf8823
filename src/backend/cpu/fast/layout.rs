//! Layout ops on the fast CPU backend: the reference loops (a permute is a copy, not worth
//! threads at the sizes the models use).

use super::CpuFast;
use crate::backend::cpu::reference::CpuReference;
use crate::backend::LayoutOps;
use crate::error::Result;
use crate::tensor::Tensor;

impl LayoutOps for CpuFast {
    fn permute(&self, x: &Tensor, perm: &[usize]) -> Result<Tensor> {
        CpuReference.permute(x, perm)
    }
}

//! The ElementwiseOps family of the `Backend` trait: Ops on each element alone: ReLU, dropout, sums and scaling.
//! Each backend implements it in its own `elementwise` file.

use crate::error::Result;
use crate::tensor::Tensor;

pub trait ElementwiseOps {
    fn relu_forward(&self, x: &Tensor) -> Result<Tensor>;
    fn relu_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor>;
    /// Inverted dropout with the mask a pure function of (seed, index) (`super::dropout_mask`):
    /// forward and backward are the same call.
    fn dropout(&self, x: &Tensor, p: f64, seed: u64) -> Result<Tensor>;
    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor>;
    fn scale(&self, a: &Tensor, factor: f64) -> Result<Tensor>;
}

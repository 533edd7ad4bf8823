//! The DenseOps family of the `Backend` trait: Linear (fully connected) layers and their gradients.
//! Each backend implements it in its own `dense` file.

use crate::error::Result;
use crate::tensor::Tensor;

pub trait DenseOps {
    /// x: (N, I), w: (O, I), bias: (O) -> (N, O).
    fn linear_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor>;
    fn linear_x_backward(&self, gy: &Tensor, w: &Tensor) -> Result<Tensor>;
    fn linear_weight_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor>;
    fn linear_bias_backward(&self, gy: &Tensor) -> Result<Tensor>;
}

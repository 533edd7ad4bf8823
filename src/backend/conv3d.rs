//! The Conv3dOps family of the `Backend` trait: 3D convolution and its three gradients.
//! Each backend implements it in its own `conv3d` file.

use crate::error::Result;
use crate::tensor::geometry::Conv3dGeometry;
use crate::tensor::Tensor;

pub trait Conv3dOps {
    /// x: (N, C, T, H, W), w: (O, C, KT, KH, KW), bias: (O) -> (N, O, T', H', W').
    fn conv3d_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Conv3dGeometry) -> Result<Tensor>;
    fn conv3d_x_backward(&self, gy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor>;
    fn conv3d_weight_backward(&self, gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor>;
    fn conv3d_bias_backward(&self, gy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor>;
}

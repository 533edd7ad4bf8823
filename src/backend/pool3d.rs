//! The PoolOps family of the `Backend` trait: 3D max and average pooling and their gradients.
//! Each backend implements it in its own `pool3d` file.

use crate::error::Result;
use crate::tensor::geometry::Pool3dGeometry;
use crate::tensor::Tensor;

pub trait PoolOps {
    /// Returns the pooled tensor and the u32 argmax within each (T, H, W) plane.
    fn max_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry) -> Result<(Tensor, Tensor)>;
    fn max_pool3d_backward(&self, gy: &Tensor, argmax: &Tensor, g: &Pool3dGeometry) -> Result<Tensor>;
    fn avg_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor>;
    fn avg_pool3d_backward(&self, gy: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor>;
}

//! 3D max and average pooling over (T, H, W), PyTorch semantics (ceil mode, implicit -inf
//! padding for max, `count_include_pad` for average).

use super::geometry::{Pool3dGeometry, Pool3dOptions};
use crate::autograd::Var;
use crate::backend;
use crate::error::Result;
use crate::tensor::Tensor;

/// Returns the pooled tensor and the argmax within each (T, H, W) plane (u32).
pub fn max_pool3d(x: &Tensor, opts: &Pool3dOptions) -> Result<(Tensor, Tensor)> {
    x.expect_float("max_pool3d", "input")?;
    let g = Pool3dGeometry::new("max_pool3d", x.shape(), opts)?;
    backend::of(x).max_pool3d_forward(x, &g)
}

pub fn avg_pool3d(x: &Tensor, opts: &Pool3dOptions, count_include_pad: bool) -> Result<Tensor> {
    x.expect_float("avg_pool3d", "input")?;
    let g = Pool3dGeometry::new("avg_pool3d", x.shape(), opts)?;
    backend::of(x).avg_pool3d_forward(x, &g, count_include_pad)
}

impl Var {
    pub fn max_pool3d(&self, opts: &Pool3dOptions) -> Result<Var> {
        self.value().expect_float("max_pool3d", "input")?;
        let g = Pool3dGeometry::new("max_pool3d", self.value().shape(), opts)?;
        let be = backend::of(self.value());
        let (y, argmax) = be.max_pool3d_forward(self.value(), &g)?;
        Ok(self.tape().record("max_pool3d", y, &[self], move |gy, _| {
            Ok(vec![Some(be.max_pool3d_backward(gy, &argmax, &g)?)])
        }))
    }

    pub fn avg_pool3d(&self, opts: &Pool3dOptions, count_include_pad: bool) -> Result<Var> {
        self.value().expect_float("avg_pool3d", "input")?;
        let g = Pool3dGeometry::new("avg_pool3d", self.value().shape(), opts)?;
        let be = backend::of(self.value());
        let y = be.avg_pool3d_forward(self.value(), &g, count_include_pad)?;
        Ok(self.tape().record("avg_pool3d", y, &[self], move |gy, _| {
            Ok(vec![Some(be.avg_pool3d_backward(gy, &g, count_include_pad)?)])
        }))
    }
}

//! 3D convolution: `conv3d`, `conv3d_x_backward`, `conv3d_weight_backward`, `conv3d_bias_backward`.

use super::geometry::{Conv3dGeometry, Conv3dOptions};
use crate::autograd::Var;
use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

const OP: &str = "conv3d";

/// Checks x (N, C, T, H, W), w (O, C, KT, KH, KW), bias (O) and returns the geometry.
pub fn check(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, opts: &Conv3dOptions) -> Result<Conv3dGeometry> {
    x.expect_float(OP, "input")?;
    x.expect_same_type(w, OP, "weight")?;
    let g = Conv3dGeometry::new(x.shape(), w.shape(), opts)?;
    if let Some(b) = bias {
        x.expect_same_type(b, OP, "bias")?;
        if b.dims() != [g.out_channels] {
            return Err(Error::shape(
                OP,
                format!(
                    "bias {} must be ({}) for weight {}",
                    b.shape(),
                    g.out_channels,
                    w.shape()
                ),
            ));
        }
    }
    Ok(g)
}

pub fn conv3d(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, opts: &Conv3dOptions) -> Result<Tensor> {
    let g = check(x, w, bias, opts)?;
    backend::of(x).conv3d_forward(x, w, bias, &g)
}

impl Var {
    /// y = conv3d(self, w) + bias, with gradients for whichever of x, w, bias need them.
    pub fn conv3d(&self, w: &Var, bias: Option<&Var>, opts: &Conv3dOptions) -> Result<Var> {
        self.expect_same_tape(w, OP)?;
        let g = check(self.value(), w.value(), bias.map(Var::value), opts)?;
        let be = backend::of(self.value());
        let y = be.conv3d_forward(self.value(), w.value(), bias.map(Var::value), &g)?;
        let (x_val, w_val) = (self.value().clone(), w.value().clone());
        let mut inputs = vec![self, w];
        inputs.extend(bias);
        Ok(self.tape().record(OP, y, &inputs, move |gy, needs| {
            Ok(vec![
                needs[0].then(|| be.conv3d_x_backward(gy, &w_val, &g)).transpose()?,
                needs[1]
                    .then(|| be.conv3d_weight_backward(gy, &x_val, &g))
                    .transpose()?,
                needs
                    .get(2)
                    .copied()
                    .unwrap_or(false)
                    .then(|| be.conv3d_bias_backward(gy, &g))
                    .transpose()?,
            ])
        }))
    }
}

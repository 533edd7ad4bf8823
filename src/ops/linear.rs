//! Fully connected layer, y = x · Wᵀ + b, with PyTorch's (out, in) weight layout.

use crate::autograd::Var;
use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

const OP: &str = "linear";

/// Checks x (N, I), w (O, I), bias (O).
pub fn check(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    x.expect_float(OP, "input")?;
    x.expect_same_type(w, OP, "weight")?;
    let [_, ins] = x.shape().expect_rank::<2>(OP, "input (N, in_features)")?;
    let [outs, w_ins] = w.shape().expect_rank::<2>(OP, "weight (out_features, in_features)")?;
    if ins != w_ins {
        return Err(Error::shape(
            OP,
            format!(
                "input {} has {ins} features but weight {} expects {w_ins}",
                x.shape(),
                w.shape()
            ),
        ));
    }
    if let Some(b) = bias {
        x.expect_same_type(b, OP, "bias")?;
        if b.dims() != [outs] {
            return Err(Error::shape(
                OP,
                format!("bias {} must be ({outs}) for weight {}", b.shape(), w.shape()),
            ));
        }
    }
    Ok(())
}

pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    check(x, w, bias)?;
    backend::of(x).linear_forward(x, w, bias)
}

impl Var {
    pub fn linear(&self, w: &Var, bias: Option<&Var>) -> Result<Var> {
        self.expect_same_tape(w, OP)?;
        check(self.value(), w.value(), bias.map(Var::value))?;
        let be = backend::of(self.value());
        let y = be.linear_forward(self.value(), w.value(), bias.map(Var::value))?;
        let (x_val, w_val) = (self.value().clone(), w.value().clone());
        let mut inputs = vec![self, w];
        inputs.extend(bias);
        Ok(self.tape().record(OP, y, &inputs, move |gy, needs| {
            Ok(vec![
                needs[0].then(|| be.linear_x_backward(gy, &w_val)).transpose()?,
                needs[1].then(|| be.linear_weight_backward(gy, &x_val)).transpose()?,
                needs
                    .get(2)
                    .copied()
                    .unwrap_or(false)
                    .then(|| be.linear_bias_backward(gy))
                    .transpose()?,
            ])
        }))
    }
}

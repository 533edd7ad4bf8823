//! Rectified linear unit.

use crate::autograd::Var;
use crate::backend;
use crate::error::Result;
use crate::tensor::Tensor;

pub fn relu(x: &Tensor) -> Result<Tensor> {
    x.expect_float("relu", "input")?;
    backend::of(x).relu_forward(x)
}

impl Var {
    pub fn relu(&self) -> Result<Var> {
        let y = relu(self.value())?;
        let x = self.value().clone();
        Ok(self.tape().record("relu", y, &[self], move |gy, _| {
            Ok(vec![Some(backend::of(&x).relu_backward(gy, &x)?)])
        }))
    }
}

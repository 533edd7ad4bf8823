//! Elementwise sum and scaling of same-shaped tensors.

use crate::autograd::Var;
use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

fn check_same_shape(a: &Tensor, b: &Tensor) -> Result<()> {
    a.expect_float("add", "left operand")?;
    a.expect_same_type(b, "add", "right operand")?;
    if a.dims() != b.dims() {
        return Err(Error::shape(
            "add",
            format!("operands {} and {} differ in shape", a.shape(), b.shape()),
        ));
    }
    Ok(())
}

pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    check_same_shape(a, b)?;
    backend::of(a).add(a, b)
}

pub fn scale(a: &Tensor, factor: f64) -> Result<Tensor> {
    a.expect_float("scale", "operand")?;
    backend::of(a).scale(a, factor)
}

impl Var {
    pub fn add(&self, other: &Var) -> Result<Var> {
        self.expect_same_tape(other, "add")?;
        let y = add(self.value(), other.value())?;
        Ok(self.tape().record("add", y, &[self, other], |gy, _| {
            Ok(vec![Some(gy.clone()), Some(gy.clone())])
        }))
    }

    pub fn scale(&self, factor: f64) -> Result<Var> {
        let y = scale(self.value(), factor)?;
        Ok(self
            .tape()
            .record("scale", y, &[self], move |gy, _| Ok(vec![Some(scale(gy, factor)?)])))
    }
}

//! Trainable parameters: a named tensor and the gradient accumulated into it by every
//! `backward()` until the optimizer consumes it.

use std::cell::RefCell;
use std::rc::Rc;

use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

#[derive(Clone)]
pub struct Param(Rc<ParamState>);

struct ParamState {
    name: String,
    value: RefCell<Tensor>,
    grad: RefCell<Option<Tensor>>,
}

impl Param {
    pub fn new(name: impl Into<String>, value: Tensor) -> Param {
        Param(Rc::new(ParamState {
            name: name.into(),
            value: RefCell::new(value),
            grad: RefCell::new(None),
        }))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn value(&self) -> Tensor {
        self.0.value.borrow().clone()
    }

    /// Replaces the value; the new tensor must have the same shape and dtype.
    pub fn set_value(&self, value: Tensor) -> Result<()> {
        let old = self.0.value.borrow();
        if old.dims() != value.dims() || old.dtype() != value.dtype() {
            return Err(Error::shape(
                "param",
                format!(
                    "{}: new value {:?} {} does not match {:?} {}",
                    self.0.name,
                    value.dtype(),
                    value.shape(),
                    old.dtype(),
                    old.shape()
                ),
            ));
        }
        drop(old);
        *self.0.value.borrow_mut() = value;
        Ok(())
    }

    /// The gradient accumulated since the last `zero_grad`, if any backward reached this param.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.borrow().clone()
    }

    pub fn zero_grad(&self) {
        *self.0.grad.borrow_mut() = None;
    }

    /// Adds `g` to the stored gradient (used by the tape; also by tests and gradient surgery).
    pub fn accumulate_grad(&self, g: &Tensor) -> Result<()> {
        let value = self.0.value.borrow();
        if g.dims() != value.dims() || g.dtype() != value.dtype() {
            return Err(Error::Autograd(format!(
                "gradient {:?} {} for parameter {} of {:?} {}",
                g.dtype(),
                g.shape(),
                self.0.name,
                value.dtype(),
                value.shape()
            )));
        }
        let mut slot = self.0.grad.borrow_mut();
        *slot = Some(match slot.take() {
            None => g.clone(),
            Some(old) => backend::of(&old).add(&old, g)?,
        });
        Ok(())
    }

    /// True when both handles refer to the same parameter.
    pub fn same(&self, other: &Param) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({} {})", self.0.name, self.0.value.borrow().shape())
    }
}

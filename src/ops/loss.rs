//! Log-softmax and batch-mean cross-entropy on (N, K) logits.

use crate::autograd::Var;
use crate::backend;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

fn check_logits(op: &'static str, x: &Tensor) -> Result<[usize; 2]> {
    x.expect_float(op, "logits")?;
    let dims = x.shape().expect_rank::<2>(op, "logits (N, classes)")?;
    if dims.contains(&0) {
        return Err(Error::shape(op, format!("logits {} are empty", x.shape())));
    }
    Ok(dims)
}

fn check_labels(x: &Tensor, labels: &[usize]) -> Result<()> {
    let [n, k] = check_logits("cross_entropy", x)?;
    if labels.len() != n {
        return Err(Error::shape(
            "cross_entropy",
            format!("{} labels for logits {}", labels.len(), x.shape()),
        ));
    }
    if let Some((i, &y)) = labels.iter().enumerate().find(|(_, &y)| y >= k) {
        return Err(Error::argument(
            "cross_entropy",
            format!("label {y} at batch index {i} is outside 0..{k}"),
        ));
    }
    Ok(())
}

pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    check_logits("log_softmax", x)?;
    backend::of(x).log_softmax_forward(x)
}

/// Mean over the batch of −log softmax(x)[label]; a scalar tensor.
pub fn cross_entropy(x: &Tensor, labels: &[usize]) -> Result<Tensor> {
    check_labels(x, labels)?;
    backend::of(x).cross_entropy_forward(x, labels)
}

impl Var {
    pub fn log_softmax(&self) -> Result<Var> {
        let y = log_softmax(self.value())?;
        let y_val = y.clone();
        Ok(self.tape().record("log_softmax", y, &[self], move |gy, _| {
            Ok(vec![Some(backend::of(gy).log_softmax_backward(gy, &y_val)?)])
        }))
    }

    pub fn cross_entropy(&self, labels: &[usize]) -> Result<Var> {
        let loss = cross_entropy(self.value(), labels)?;
        let (x, labels) = (self.value().clone(), labels.to_vec());
        Ok(self.tape().record("cross_entropy", loss, &[self], move |g, _| {
            Ok(vec![Some(backend::of(&x).cross_entropy_backward(
                g.item()?,
                &x,
                &labels,
            )?)])
        }))
    }
}

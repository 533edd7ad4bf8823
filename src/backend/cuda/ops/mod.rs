//! `CudaBackend`: the `Backend` trait on CUDA (or emulated CUDA) tensors. Stateless — each
//! op runs on the launcher that owns its input's storage — so one value serves every device.
//! One file of launchers per kernel file.

pub mod common;
pub mod conv3d;
pub mod dense;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod optim;
pub mod pool3d;
pub mod temporal;

use crate::backend::optim::{SgdStep, SgdTensors};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::tensor::geometry::{Conv3dGeometry, Pool3dGeometry};
use crate::tensor::{DType, Tensor};

pub struct CudaBackend;

/// Calls `$f::<f32>` or `$f::<f64>` by the dtype of `$t`.
macro_rules! by_dtype {
    ($op:expr, $t:expr, $m:ident::$f:ident, ($($arg:expr),*)) => {
        match $t.dtype() {
            DType::F32 => $m::$f::<f32>($($arg),*),
            DType::F64 => $m::$f::<f64>($($arg),*),
            other => Err(Error::type_mismatch($op, format!("expected a float tensor, got {other:?}"))),
        }
    };
}

impl Backend for CudaBackend {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn conv3d_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Conv3dGeometry) -> Result<Tensor> {
        by_dtype!("conv3d", x, conv3d::forward, (x, w, bias, g))
    }
    fn conv3d_x_backward(&self, gy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        by_dtype!("conv3d_x_backward", gy, conv3d::x_backward, (gy, w, g))
    }
    fn conv3d_weight_backward(&self, gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        by_dtype!("conv3d_weight_backward", gy, conv3d::weight_backward, (gy, x, g))
    }
    fn conv3d_bias_backward(&self, gy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        by_dtype!("conv3d_bias_backward", gy, conv3d::bias_backward, (gy, g))
    }

    fn max_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry) -> Result<(Tensor, Tensor)> {
        by_dtype!("max_pool3d", x, pool3d::max_forward, (x, g))
    }
    fn max_pool3d_backward(&self, gy: &Tensor, argmax: &Tensor, g: &Pool3dGeometry) -> Result<Tensor> {
        by_dtype!("max_pool3d_backward", gy, pool3d::max_backward, (gy, argmax, g))
    }
    fn avg_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        by_dtype!("avg_pool3d", x, pool3d::avg_forward, (x, g, count_include_pad))
    }
    fn avg_pool3d_backward(&self, gy: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        by_dtype!(
            "avg_pool3d_backward",
            gy,
            pool3d::avg_backward,
            (gy, g, count_include_pad)
        )
    }

    fn linear_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        by_dtype!("linear", x, dense::forward, (x, w, bias))
    }
    fn linear_x_backward(&self, gy: &Tensor, w: &Tensor) -> Result<Tensor> {
        by_dtype!("linear_x_backward", gy, dense::x_backward, (gy, w))
    }
    fn linear_weight_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        by_dtype!("linear_weight_backward", gy, dense::weight_backward, (gy, x))
    }
    fn linear_bias_backward(&self, gy: &Tensor) -> Result<Tensor> {
        by_dtype!("linear_bias_backward", gy, dense::bias_backward, (gy))
    }

    fn relu_forward(&self, x: &Tensor) -> Result<Tensor> {
        by_dtype!("relu", x, elementwise::relu_forward, (x))
    }
    fn relu_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        by_dtype!("relu_backward", gy, elementwise::relu_backward, (gy, x))
    }
    fn dropout(&self, x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
        by_dtype!("dropout", x, elementwise::dropout, (x, p, seed))
    }
    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        by_dtype!("add", a, elementwise::add, (a, b))
    }
    fn scale(&self, a: &Tensor, factor: f64) -> Result<Tensor> {
        by_dtype!("scale", a, elementwise::scale, (a, factor))
    }
    fn permute(&self, x: &Tensor, perm: &[usize]) -> Result<Tensor> {
        by_dtype!("permute", x, layout::permute, (x, perm))
    }

    fn sliding_max_forward(&self, x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
        by_dtype!("sliding_max", x, temporal::sliding_max_forward, (x, k))
    }
    fn sliding_max_backward(&self, gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor> {
        by_dtype!(
            "sliding_max_backward",
            gy,
            temporal::sliding_max_backward,
            (gy, argmax, len)
        )
    }
    fn softmax_pool_forward(&self, s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)> {
        by_dtype!("temporal_softmax_pool", s, temporal::softmax_pool_forward, (s, gamma))
    }
    fn window_pool_forward(&self, x: &Tensor, k: usize, gamma: f64) -> Result<Tensor> {
        by_dtype!("window_pool", x, temporal::window_pool_forward, (x, k, gamma))
    }
    fn softmax_pool_backward(&self, gf: &Tensor, s: &Tensor, f: &Tensor, p: &Tensor, gamma: f64) -> Result<Tensor> {
        by_dtype!(
            "temporal_softmax_pool_backward",
            s,
            temporal::softmax_pool_backward,
            (gf, s, f, p, gamma)
        )
    }

    fn log_softmax_forward(&self, x: &Tensor) -> Result<Tensor> {
        by_dtype!("log_softmax", x, loss::log_softmax_forward, (x))
    }
    fn log_softmax_backward(&self, gy: &Tensor, y: &Tensor) -> Result<Tensor> {
        by_dtype!("log_softmax_backward", y, loss::log_softmax_backward, (gy, y))
    }
    fn cross_entropy_forward(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        by_dtype!("cross_entropy", x, loss::cross_entropy_forward, (x, labels))
    }
    fn cross_entropy_backward(&self, g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        by_dtype!(
            "cross_entropy_backward",
            x,
            loss::cross_entropy_backward,
            (g, x, labels)
        )
    }

    fn sgd_step(
        &self,
        param: &Tensor,
        grad: &Tensor,
        momentum: Option<&Tensor>,
        h: &SgdStep,
    ) -> Result<(Tensor, Tensor)> {
        by_dtype!("sgd_step", param, optim::sgd_step, (param, grad, momentum, h))
    }

    fn sgd_step_many(&self, items: &[SgdTensors<'_>], h: &SgdStep) -> Result<Vec<(Tensor, Tensor)>> {
        let Some(first) = items.first() else {
            return Ok(Vec::new());
        };
        by_dtype!("sgd_step", first.param, optim::sgd_step_many, (items, h))
    }
}

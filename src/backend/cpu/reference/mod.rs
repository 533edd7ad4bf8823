//! The reference CPU backend: obviously-correct loops, generic over f32 and f64. Slow on
//! purpose; every faster path and every CUDA kernel is compared against it.

pub mod conv3d;
pub mod dense;
pub mod elementwise;
pub mod layout;
pub mod loss;
pub mod optim;
pub mod pool3d;
pub mod temporal;

use super::super::Backend;
use super::{optional, rows_and_last, with_last_dim};
use crate::backend::optim::SgdStep;
use crate::error::Result;
use crate::tensor::geometry::{Conv3dGeometry, Pool3dGeometry};
use crate::tensor::{Float, Tensor};

pub struct CpuReference;

impl Backend for CpuReference {
    fn name(&self) -> &'static str {
        "cpu-reference"
    }

    fn conv3d_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d";
        with_float!(OP, x, |T| {
            let y = conv3d::forward::<T>(x.as_slice(OP)?, w.as_slice(OP)?, optional(bias, OP)?, g);
            Tensor::from_vec(&g.output_dims(), y)
        })
    }

    fn conv3d_x_backward(&self, gy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_x_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.input_dims(),
            conv3d::x_backward::<T>(gy.as_slice(OP)?, w.as_slice(OP)?, g)
        ))
    }

    fn conv3d_weight_backward(&self, gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_weight_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.weight_dims(),
            conv3d::weight_backward::<T>(gy.as_slice(OP)?, x.as_slice(OP)?, g)
        ))
    }

    fn conv3d_bias_backward(&self, gy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_bias_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[g.out_channels],
            conv3d::bias_backward::<T>(gy.as_slice(OP)?, g)
        ))
    }

    fn max_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry) -> Result<(Tensor, Tensor)> {
        const OP: &str = "max_pool3d";
        with_float!(OP, x, |T| {
            let (y, arg) = pool3d::max_forward::<T>(x.as_slice(OP)?, g);
            Ok((
                Tensor::from_vec(&g.output_dims(), y)?,
                Tensor::from_vec(&g.output_dims(), arg)?,
            ))
        })
    }

    fn max_pool3d_backward(&self, gy: &Tensor, argmax: &Tensor, g: &Pool3dGeometry) -> Result<Tensor> {
        const OP: &str = "max_pool3d_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.input_dims(),
            pool3d::max_backward::<T>(gy.as_slice(OP)?, argmax.as_slice(OP)?, g)
        ))
    }

    fn avg_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        const OP: &str = "avg_pool3d";
        with_float!(OP, x, |T| Tensor::from_vec(
            &g.output_dims(),
            pool3d::avg_forward::<T>(x.as_slice(OP)?, g, count_include_pad)
        ))
    }

    fn avg_pool3d_backward(&self, gy: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        const OP: &str = "avg_pool3d_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.input_dims(),
            pool3d::avg_backward::<T>(gy.as_slice(OP)?, g, count_include_pad)
        ))
    }

    fn linear_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        const OP: &str = "linear";
        let (rows, ins, outs) = (x.dims()[0], x.dims()[1], w.dims()[0]);
        with_float!(OP, x, |T| Tensor::from_vec(
            &[rows, outs],
            dense::linear_forward::<T>(x.as_slice(OP)?, w.as_slice(OP)?, optional(bias, OP)?, rows, ins, outs)
        ))
    }

    fn linear_x_backward(&self, gy: &Tensor, w: &Tensor) -> Result<Tensor> {
        const OP: &str = "linear_x_backward";
        let (rows, outs, ins) = (gy.dims()[0], w.dims()[0], w.dims()[1]);
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[rows, ins],
            dense::linear_x_backward::<T>(gy.as_slice(OP)?, w.as_slice(OP)?, rows, ins, outs)
        ))
    }

    fn linear_weight_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        const OP: &str = "linear_weight_backward";
        let (rows, outs, ins) = (gy.dims()[0], gy.dims()[1], x.dims()[1]);
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[outs, ins],
            dense::linear_weight_backward::<T>(gy.as_slice(OP)?, x.as_slice(OP)?, rows, ins, outs)
        ))
    }

    fn linear_bias_backward(&self, gy: &Tensor) -> Result<Tensor> {
        const OP: &str = "linear_bias_backward";
        let (rows, outs) = (gy.dims()[0], gy.dims()[1]);
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[outs],
            dense::linear_bias_backward::<T>(gy.as_slice(OP)?, rows, outs)
        ))
    }

    fn relu_forward(&self, x: &Tensor) -> Result<Tensor> {
        const OP: &str = "relu";
        with_float!(OP, x, |T| Tensor::from_vec(
            x.dims(),
            elementwise::relu_forward::<T>(x.as_slice(OP)?)
        ))
    }

    fn relu_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        const OP: &str = "relu_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            x.dims(),
            elementwise::relu_backward::<T>(gy.as_slice(OP)?, x.as_slice(OP)?)
        ))
    }

    fn dropout(&self, x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
        const OP: &str = "dropout";
        with_float!(OP, x, |T| Tensor::from_vec(
            x.dims(),
            elementwise::dropout::<T>(x.as_slice(OP)?, p, seed)
        ))
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        const OP: &str = "add";
        with_float!(OP, a, |T| Tensor::from_vec(
            a.dims(),
            elementwise::add::<T>(a.as_slice(OP)?, b.as_slice(OP)?)
        ))
    }

    fn scale(&self, a: &Tensor, factor: f64) -> Result<Tensor> {
        const OP: &str = "scale";
        with_float!(OP, a, |T| Tensor::from_vec(
            a.dims(),
            elementwise::scale::<T>(a.as_slice(OP)?, factor)
        ))
    }

    fn permute(&self, x: &Tensor, perm: &[usize]) -> Result<Tensor> {
        const OP: &str = "permute";
        let dims: Vec<usize> = perm.iter().map(|&p| x.dims()[p]).collect();
        with_float!(OP, x, |T| Tensor::from_vec(
            &dims,
            layout::permute::<T>(x.as_slice(OP)?, x.dims(), perm)
        ))
    }

    fn sliding_max_forward(&self, x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
        const OP: &str = "sliding_max";
        let (rows, len) = rows_and_last(x);
        let dims = with_last_dim(x, len - k + 1);
        with_float!(OP, x, |T| {
            let (y, arg) = temporal::sliding_max_forward::<T>(x.as_slice(OP)?, rows, len, k);
            Ok((Tensor::from_vec(&dims, y)?, Tensor::from_vec(&dims, arg)?))
        })
    }

    fn sliding_max_backward(&self, gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor> {
        const OP: &str = "sliding_max_backward";
        let (rows, _) = rows_and_last(gy);
        with_float!(OP, gy, |T| Tensor::from_vec(
            &with_last_dim(gy, len),
            temporal::sliding_max_backward::<T>(gy.as_slice(OP)?, argmax.as_slice(OP)?, rows, len)
        ))
    }

    fn softmax_pool_forward(&self, s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)> {
        const OP: &str = "temporal_softmax_pool";
        let (rows, windows) = rows_and_last(s);
        let pooled_dims = &s.dims()[..s.rank() - 1];
        with_float!(OP, s, |T| {
            let (f, p) = temporal::softmax_pool_forward::<T>(s.as_slice(OP)?, rows, windows, gamma);
            Ok((Tensor::from_vec(pooled_dims, f)?, Tensor::from_vec(s.dims(), p)?))
        })
    }

    fn window_pool_forward(&self, x: &Tensor, k: usize, gamma: f64) -> Result<Tensor> {
        const OP: &str = "window_pool";
        let (rows, len) = rows_and_last(x);
        with_float!(OP, x, |T| Tensor::from_vec(
            &with_last_dim(x, crate::backend::POOL_STATE),
            temporal::window_pool_forward::<T>(x.as_slice(OP)?, rows, len, k, gamma)
        ))
    }

    fn softmax_pool_backward(&self, gf: &Tensor, s: &Tensor, f: &Tensor, p: &Tensor, gamma: f64) -> Result<Tensor> {
        const OP: &str = "temporal_softmax_pool_backward";
        let (_, windows) = rows_and_last(s);
        with_float!(OP, s, |T| Tensor::from_vec(
            s.dims(),
            temporal::softmax_pool_backward::<T>(
                gf.as_slice(OP)?,
                s.as_slice(OP)?,
                f.as_slice(OP)?,
                p.as_slice(OP)?,
                windows,
                gamma
            )
        ))
    }

    fn log_softmax_forward(&self, x: &Tensor) -> Result<Tensor> {
        const OP: &str = "log_softmax";
        let (_, classes) = rows_and_last(x);
        with_float!(OP, x, |T| Tensor::from_vec(
            x.dims(),
            loss::log_softmax_forward::<T>(x.as_slice(OP)?, classes)
        ))
    }

    fn log_softmax_backward(&self, gy: &Tensor, y: &Tensor) -> Result<Tensor> {
        const OP: &str = "log_softmax_backward";
        let (_, classes) = rows_and_last(y);
        with_float!(OP, y, |T| Tensor::from_vec(
            y.dims(),
            loss::log_softmax_backward::<T>(gy.as_slice(OP)?, y.as_slice(OP)?, classes)
        ))
    }

    fn cross_entropy_forward(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        const OP: &str = "cross_entropy";
        let (_, classes) = rows_and_last(x);
        with_float!(OP, x, |T| Ok(Tensor::scalar(loss::cross_entropy_forward::<T>(
            x.as_slice(OP)?,
            labels,
            classes
        ))))
    }

    fn cross_entropy_backward(&self, g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        const OP: &str = "cross_entropy_backward";
        let (_, classes) = rows_and_last(x);
        with_float!(OP, x, |T| Tensor::from_vec(
            x.dims(),
            loss::cross_entropy_backward::<T>(T::from_f64_lossy(g), x.as_slice(OP)?, labels, classes)
        ))
    }

    fn sgd_step(
        &self,
        param: &Tensor,
        grad: &Tensor,
        momentum: Option<&Tensor>,
        h: &SgdStep,
    ) -> Result<(Tensor, Tensor)> {
        const OP: &str = "sgd_step";
        with_float!(OP, param, |T| {
            let (p, b) = optim::sgd_step::<T>(param.as_slice(OP)?, grad.as_slice(OP)?, optional(momentum, OP)?, h);
            Ok((Tensor::from_vec(param.dims(), p)?, Tensor::from_vec(param.dims(), b)?))
        })
    }
}

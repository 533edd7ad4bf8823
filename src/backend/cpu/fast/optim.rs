//! The SGD step on the fast CPU backend: the reference update (vectorised per ISA level in
//! `sgd.rs`, with the same bits) on chunks of the parameter, one parallel task each (every element's update reads that element alone, so any split gives the
//! same bits).

use rayon::prelude::*;

use super::sgd::SgdFloat;
use super::CpuFast;
use crate::backend::cpu::optional;
use crate::backend::optim::SgdStep;
use crate::backend::OptimOps;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

impl OptimOps for CpuFast {
    fn sgd_step(
        &self,
        param: &Tensor,
        grad: &Tensor,
        momentum: Option<&Tensor>,
        h: &SgdStep,
    ) -> Result<(Tensor, Tensor)> {
        const OP: &str = "sgd_step";
        // C3D has 78 M parameters: one pass over them is worth splitting across the threads.
        const CHUNK: usize = 1 << 16;
        with_float!(OP, param, |T| {
            let (p, g, buf) = (
                param.as_slice::<T>(OP)?,
                grad.as_slice::<T>(OP)?,
                optional(momentum, OP)?,
            );
            if g.len() != p.len() || buf.is_some_and(|b| b.len() != p.len()) {
                let shapes = format!(
                    "param {}, grad {}, momentum {:?}",
                    param.shape(),
                    grad.shape(),
                    momentum.map(Tensor::shape)
                );
                return Err(Error::shape(
                    OP,
                    format!("every tensor needs the parameter's size: {shapes}"),
                ));
            }
            let (mut new_p, mut new_buf) = (vec![T::default(); p.len()], vec![T::default(); p.len()]);
            new_p
                .par_chunks_mut(CHUNK)
                .zip(new_buf.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(i, (np, nb))| {
                    let r = i * CHUNK..i * CHUNK + np.len();
                    // f32 runs the vectorised update of `sgd.rs` (same bits), f64 the reference's.
                    T::step_into(&p[r.clone()], &g[r.clone()], buf.map(|b| &b[r]), h, np, nb)
                });
            Ok((
                Tensor::from_vec(param.dims(), new_p)?,
                Tensor::from_vec(param.dims(), new_buf)?,
            ))
        })
    }
}

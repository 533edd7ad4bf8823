//! The fast CPU backend, multi-threaded with rayon: GEMM-based conv3d and linear (f32 and f64,
//! the latter for full-size parity checks), pooling and elementwise ops split over planes or
//! chunks (f32). Results are bit-for-bit reproducible for a given thread count: work is split
//! into disjoint outputs, and every sum runs in a fixed order. Ops without a fast version go to
//! the reference loops, which remain the oracle this backend is tested against.

pub mod conv3d;
pub mod dense;
pub mod fma_peak;
pub mod gemm;
pub mod isa;
pub mod microkernel;
pub mod pool3d;
pub mod send_ptr;
pub mod sgd;
pub mod temporal;
pub mod workspace;

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::reference::{self, CpuReference};
use super::{optional, rows_and_last, with_last_dim};
use crate::backend::optim::SgdStep;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::tensor::geometry::{Conv3dGeometry, Pool3dGeometry};
use crate::tensor::{DType, Tensor};
use sgd::SgdFloat;

pub struct CpuFast;

const REF: CpuReference = CpuReference;

fn is_f32(t: &Tensor) -> bool {
    t.dtype() == DType::F32
}

/// Planes per parallel task for pooling: at least a few tasks per thread.
fn planes_per_task(planes: usize) -> usize {
    planes.div_ceil(rayon::current_num_threads() * 4).max(1)
}

/// Runs `f(sub_geometry, first_plane, out)` over disjoint groups of planes in parallel, where
/// `out` is the group's part of an output holding `per_plane` elements per plane.
fn per_planes<T: Send>(
    g: &Pool3dGeometry,
    out: &mut [T],
    per_plane: usize,
    f: impl Fn(&Pool3dGeometry, usize, &mut [T]) + Sync,
) {
    let step = planes_per_task(g.planes);
    out.par_chunks_mut(step * per_plane).enumerate().for_each(|(k, part)| {
        let sub = Pool3dGeometry {
            planes: part.len() / per_plane,
            ..*g
        };
        f(&sub, k * step, part)
    });
}

/// `n` uninitialised elements: room for a kernel that writes every one (see `assume_init`),
/// without first zeroing memory that the allocator may hand back already touched.
fn uninit<T>(n: usize) -> Vec<MaybeUninit<T>> {
    let mut v = Vec::with_capacity(n);
    // Safety: the capacity is n, and MaybeUninit needs no initialisation.
    unsafe { v.set_len(n) };
    v
}

/// The elements of `v`, read as initialised.
///
/// Safety: every element of `v` has been written.
unsafe fn assume_init<T>(v: Vec<MaybeUninit<T>>) -> Vec<T> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // Safety: MaybeUninit<T> has T's layout, so pointer, length and capacity describe the same
    // allocation as a Vec<T>; the caller vouches that all elements are initialised.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut T, v.len(), v.capacity()) }
}

impl Backend for CpuFast {
    fn name(&self) -> &'static str {
        "cpu-fast"
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
        if !is_f32(x) {
            return REF.max_pool3d_forward(x, g);
        }
        let xs = x.as_slice::<f32>("max_pool3d")?;
        let (in_plane, out_plane) = (g.input.iter().product::<usize>(), g.output.iter().product::<usize>());
        let n = g.planes * out_plane;
        let (mut y, mut arg) = (uninit::<f32>(n), uninit::<u32>(n));
        // Values and argmax are split into the same plane groups (two zipped chunkings); each
        // group writes all of its part of both.
        let step = planes_per_task(g.planes);
        y.par_chunks_mut(step * out_plane)
            .zip(arg.par_chunks_mut(step * out_plane))
            .enumerate()
            .for_each(|(k, (yp, ap))| {
                let sub = Pool3dGeometry {
                    planes: yp.len() / out_plane,
                    ..*g
                };
                let part = &xs[k * step * in_plane..(k * step + sub.planes) * in_plane];
                if pool3d::tiles(&sub) {
                    pool3d::max_forward(part, yp, ap, &sub);
                } else {
                    let (y, a) = reference::pool3d::max_forward(part, &sub);
                    yp.iter_mut().zip(y).for_each(|(o, v)| _ = o.write(v));
                    ap.iter_mut().zip(a).for_each(|(o, v)| _ = o.write(v));
                }
            });
        // Safety: the plane groups cover y and arg, and both branches above write all of a group.
        let (y, arg) = unsafe { (assume_init(y), assume_init(arg)) };
        Ok((
            Tensor::from_vec(&g.output_dims(), y)?,
            Tensor::from_vec(&g.output_dims(), arg)?,
        ))
    }

    fn max_pool3d_backward(&self, gy: &Tensor, argmax: &Tensor, g: &Pool3dGeometry) -> Result<Tensor> {
        if !is_f32(gy) {
            return REF.max_pool3d_backward(gy, argmax, g);
        }
        const OP: &str = "max_pool3d_backward";
        let (gys, args) = (gy.as_slice::<f32>(OP)?, argmax.as_slice::<u32>(OP)?);
        let (in_plane, out_plane) = (g.input.iter().product::<usize>(), g.output.iter().product::<usize>());
        let range = |p0: usize, sub: &Pool3dGeometry| p0 * out_plane..(p0 + sub.planes) * out_plane;
        let gx = if pool3d::tiles(g) {
            let mut gx = uninit::<f32>(g.planes * in_plane);
            per_planes(g, &mut gx, in_plane, |sub, p0, part| {
                pool3d::max_backward_tiles(&gys[range(p0, sub)], &args[range(p0, sub)], part, sub);
            });
            // Safety: the plane groups cover gx, and the tiling backward writes every element.
            unsafe { assume_init(gx) }
        } else {
            let mut gx = vec![0f32; g.planes * in_plane];
            per_planes(g, &mut gx, in_plane, |sub, p0, part| {
                pool3d::max_backward(&gys[range(p0, sub)], &args[range(p0, sub)], part, sub);
            });
            gx
        };
        Tensor::from_vec(&g.input_dims(), gx)
    }

    fn avg_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        if !is_f32(x) {
            return REF.avg_pool3d_forward(x, g, count_include_pad);
        }
        let xs = x.as_slice::<f32>("avg_pool3d")?;
        let (in_plane, out_plane) = (g.input.iter().product::<usize>(), g.output.iter().product::<usize>());
        let mut y = vec![0f32; g.planes * out_plane];
        per_planes(g, &mut y, out_plane, |sub, p0, part| {
            let x_part = &xs[p0 * in_plane..(p0 + sub.planes) * in_plane];
            part.copy_from_slice(&reference::pool3d::avg_forward(x_part, sub, count_include_pad));
        });
        Tensor::from_vec(&g.output_dims(), y)
    }

    fn avg_pool3d_backward(&self, gy: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        if !is_f32(gy) {
            return REF.avg_pool3d_backward(gy, g, count_include_pad);
        }
        let gys = gy.as_slice::<f32>("avg_pool3d_backward")?;
        let (in_plane, out_plane) = (g.input.iter().product::<usize>(), g.output.iter().product::<usize>());
        let mut gx = vec![0f32; g.planes * in_plane];
        per_planes(g, &mut gx, in_plane, |sub, p0, part| {
            let gy_part = &gys[p0 * out_plane..(p0 + sub.planes) * out_plane];
            part.copy_from_slice(&reference::pool3d::avg_backward(gy_part, sub, count_include_pad));
        });
        Tensor::from_vec(&g.input_dims(), gx)
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
        REF.linear_bias_backward(gy)
    }

    fn relu_forward(&self, x: &Tensor) -> Result<Tensor> {
        if !is_f32(x) {
            return REF.relu_forward(x);
        }
        let xs = x.as_slice::<f32>("relu")?;
        Tensor::from_vec(
            x.dims(),
            xs.par_iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect(),
        )
    }

    fn relu_backward(&self, gy: &Tensor, x: &Tensor) -> Result<Tensor> {
        if !is_f32(gy) {
            return REF.relu_backward(gy, x);
        }
        const OP: &str = "relu_backward";
        let (g, xs) = (gy.as_slice::<f32>(OP)?, x.as_slice::<f32>(OP)?);
        Tensor::from_vec(
            x.dims(),
            g.par_iter()
                .zip(xs)
                .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
                .collect(),
        )
    }

    fn dropout(&self, x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
        REF.dropout(x, p, seed)
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if !is_f32(a) {
            return REF.add(a, b);
        }
        let (xa, xb) = (a.as_slice::<f32>("add")?, b.as_slice::<f32>("add")?);
        Tensor::from_vec(a.dims(), xa.par_iter().zip(xb).map(|(&x, &y)| x + y).collect())
    }

    fn scale(&self, a: &Tensor, factor: f64) -> Result<Tensor> {
        REF.scale(a, factor)
    }

    fn permute(&self, x: &Tensor, perm: &[usize]) -> Result<Tensor> {
        REF.permute(x, perm)
    }

    fn sliding_max_forward(&self, x: &Tensor, k: usize) -> Result<(Tensor, Tensor)> {
        REF.sliding_max_forward(x, k)
    }

    fn sliding_max_backward(&self, gy: &Tensor, argmax: &Tensor, len: usize) -> Result<Tensor> {
        REF.sliding_max_backward(gy, argmax, len)
    }

    fn softmax_pool_forward(&self, s: &Tensor, gamma: f64) -> Result<(Tensor, Tensor)> {
        REF.softmax_pool_forward(s, gamma)
    }

    fn softmax_pool_backward(&self, gf: &Tensor, s: &Tensor, f: &Tensor, p: &Tensor, gamma: f64) -> Result<Tensor> {
        REF.softmax_pool_backward(gf, s, f, p, gamma)
    }

    fn window_pool_forward(&self, x: &Tensor, k: usize, gamma: f64) -> Result<Tensor> {
        const OP: &str = "window_pool";
        let (rows, len) = rows_and_last(x);
        with_float!(OP, x, |T| Tensor::from_vec(
            &with_last_dim(x, crate::backend::POOL_STATE),
            temporal::window_pool_forward::<T>(x.as_slice(OP)?, rows, len, k, gamma)
        ))
    }

    fn log_softmax_forward(&self, x: &Tensor) -> Result<Tensor> {
        REF.log_softmax_forward(x)
    }

    fn log_softmax_backward(&self, gy: &Tensor, y: &Tensor) -> Result<Tensor> {
        REF.log_softmax_backward(gy, y)
    }

    fn cross_entropy_forward(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        REF.cross_entropy_forward(x, labels)
    }

    fn cross_entropy_backward(&self, g: f64, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        REF.cross_entropy_backward(g, x, labels)
    }

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
                    T::step_into(&p[r.clone()], &g[r.clone()], buf.map(|b| &b[r]), h, np, nb)
                });
            Ok((
                Tensor::from_vec(param.dims(), new_p)?,
                Tensor::from_vec(param.dims(), new_buf)?,
            ))
        })
    }
}

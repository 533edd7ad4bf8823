//! Max and average pooling over (T, H, W) as plain loops: the oracle.

use super::CpuReference;
use crate::backend::PoolOps;
use crate::error::Result;
use crate::tensor::geometry::Pool3dGeometry;
use crate::tensor::Float;
use crate::tensor::Tensor;

/// Argmax value for a window that holds no input element (cannot happen with PyTorch's
/// padding and ceil-mode rules, which `Pool3dGeometry` enforces; kept so the backward never
/// indexes out of range).
pub const NO_ARGMAX: u32 = u32::MAX;

/// Calls `f(plane, out_index, window)` for every output element; `window` holds the clipped
/// [lo, hi) ranges per axis and the count over the padded input.
fn for_each_window(g: &Pool3dGeometry, mut f: impl FnMut(usize, usize, [(usize, usize); 3], usize)) {
    let [ot, oh, ow] = g.output;
    let mut out = 0;
    for plane in 0..g.planes {
        for zt in 0..ot {
            let (t0, t1, pt) = g.window(0, zt);
            for zh in 0..oh {
                let (h0, h1, ph) = g.window(1, zh);
                for zw in 0..ow {
                    let (w0, w1, pw) = g.window(2, zw);
                    f(plane, out, [(t0, t1), (h0, h1), (w0, w1)], pt * ph * pw);
                    out += 1;
                }
            }
        }
    }
}

/// Index within one (T, H, W) plane.
fn plane_index(g: &Pool3dGeometry, t: usize, h: usize, w: usize) -> usize {
    (t * g.input[1] + h) * g.input[2] + w
}

fn plane_len(g: &Pool3dGeometry) -> usize {
    g.input.iter().product()
}

/// x: (N, C, T, H, W) -> y: (N, C, T', H', W') and argmax (N, C, T', H', W'), the index of the
/// chosen element within its (T, H, W) plane. NaN wins (as in PyTorch); the first maximum wins ties.
pub fn max_forward<T: Float>(x: &[T], g: &Pool3dGeometry) -> (Vec<T>, Vec<u32>) {
    let n_out = g.planes * g.output.iter().product::<usize>();
    let (mut y, mut arg) = (vec![T::neg_infinity(); n_out], vec![NO_ARGMAX; n_out]);
    let len = plane_len(g);
    for_each_window(g, |plane, o, [(t0, t1), (h0, h1), (w0, w1)], _| {
        let base = plane * len;
        for t in t0..t1 {
            for h in h0..h1 {
                for w in w0..w1 {
                    let i = plane_index(g, t, h, w);
                    let v = x[base + i];
                    if arg[o] == NO_ARGMAX || v > y[o] || v.is_nan() && !y[o].is_nan() {
                        y[o] = v;
                        arg[o] = i as u32;
                    }
                }
            }
        }
    });
    (y, arg)
}

/// gy, argmax: (N, C, T', H', W') -> gx: (N, C, T, H, W); overlapping windows add up.
pub fn max_backward<T: Float>(gy: &[T], argmax: &[u32], g: &Pool3dGeometry) -> Vec<T> {
    let len = plane_len(g);
    let per_plane: usize = g.output.iter().product();
    let mut gx = vec![T::zero(); g.planes * len];
    for (o, (&d, &a)) in gy.iter().zip(argmax).enumerate() {
        if a != NO_ARGMAX {
            let i = (o / per_plane) * len + a as usize;
            gx[i] = gx[i] + d;
        }
    }
    gx
}

/// Divisor of one window: its size over the padded input, or over the real input only.
fn divisor<T: Float>(window: [(usize, usize); 3], padded_count: usize, count_include_pad: bool) -> T {
    let count = if count_include_pad {
        padded_count
    } else {
        window.iter().map(|(lo, hi)| hi - lo).product()
    };
    T::from_usize(count.max(1)).expect("window size fits a float")
}

/// x: (N, C, T, H, W) -> y: (N, C, T', H', W'), mean over each window.
pub fn avg_forward<T: Float>(x: &[T], g: &Pool3dGeometry, count_include_pad: bool) -> Vec<T> {
    let mut y = vec![T::zero(); g.planes * g.output.iter().product::<usize>()];
    let len = plane_len(g);
    for_each_window(g, |plane, o, win, padded| {
        let [(t0, t1), (h0, h1), (w0, w1)] = win;
        let mut acc = T::zero();
        for t in t0..t1 {
            for h in h0..h1 {
                for w in w0..w1 {
                    acc = acc + x[plane * len + plane_index(g, t, h, w)];
                }
            }
        }
        y[o] = acc / divisor::<T>(win, padded, count_include_pad);
    });
    y
}

/// gy: (N, C, T', H', W') -> gx: (N, C, T, H, W).
pub fn avg_backward<T: Float>(gy: &[T], g: &Pool3dGeometry, count_include_pad: bool) -> Vec<T> {
    let len = plane_len(g);
    let mut gx = vec![T::zero(); g.planes * len];
    for_each_window(g, |plane, o, win, padded| {
        let [(t0, t1), (h0, h1), (w0, w1)] = win;
        let share = gy[o] / divisor::<T>(win, padded, count_include_pad);
        for t in t0..t1 {
            for h in h0..h1 {
                for w in w0..w1 {
                    let i = plane * len + plane_index(g, t, h, w);
                    gx[i] = gx[i] + share;
                }
            }
        }
    });
    gx
}

impl PoolOps for CpuReference {
    fn max_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry) -> Result<(Tensor, Tensor)> {
        const OP: &str = "max_pool3d";
        with_float!(OP, x, |T| {
            let (y, arg) = max_forward::<T>(x.as_slice(OP)?, g);
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
            max_backward::<T>(gy.as_slice(OP)?, argmax.as_slice(OP)?, g)
        ))
    }

    fn avg_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        const OP: &str = "avg_pool3d";
        with_float!(OP, x, |T| Tensor::from_vec(
            &g.output_dims(),
            avg_forward::<T>(x.as_slice(OP)?, g, count_include_pad)
        ))
    }

    fn avg_pool3d_backward(&self, gy: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        const OP: &str = "avg_pool3d_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.input_dims(),
            avg_backward::<T>(gy.as_slice(OP)?, g, count_include_pad)
        ))
    }
}

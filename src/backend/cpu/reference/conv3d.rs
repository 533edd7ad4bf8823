//! Conv3d as plain loops: the oracle. Forward, input gradient and weight gradient all walk the
//! same (output position, kernel tap) pairs, so the three are one visitor and three one-line
//! bodies — the gradients are the forward's transpose by construction.

use super::CpuReference;
use crate::backend::cpu::optional;
use crate::backend::Conv3dOps;
use crate::error::Result;
use crate::tensor::geometry::Conv3dGeometry;
use crate::tensor::Float;
use crate::tensor::Tensor;

/// Calls `f(y_index, x_index, w_index)` for every output element and every kernel tap that
/// lands inside the input (taps on the zero padding contribute nothing and are skipped).
/// Visits the taps of one output element consecutively, in (c, kt, kh, kw) order.
fn for_each_tap(g: &Conv3dGeometry, mut f: impl FnMut(usize, usize, usize)) {
    let [it, ih, iw] = g.input;
    let [kt, kh, kw] = g.kernel;
    let [ot, oh, ow] = g.output;
    let tap = |o: usize, k: usize, a: usize, len: usize| -> Option<usize> {
        let i = (o * g.stride[a] + k) as isize - g.padding[a] as isize;
        (0..len as isize).contains(&i).then_some(i as usize)
    };
    let mut y = 0;
    for n in 0..g.batch {
        for o in 0..g.out_channels {
            for zt in 0..ot {
                for zh in 0..oh {
                    for zw in 0..ow {
                        for c in 0..g.in_channels {
                            let x_plane = (n * g.in_channels + c) * it;
                            let w_plane = (o * g.in_channels + c) * kt;
                            for dt in 0..kt {
                                let Some(xt) = tap(zt, dt, 0, it) else {
                                    continue;
                                };
                                for dh in 0..kh {
                                    let Some(xh) = tap(zh, dh, 1, ih) else {
                                        continue;
                                    };
                                    for dw in 0..kw {
                                        let Some(xw) = tap(zw, dw, 2, iw) else {
                                            continue;
                                        };
                                        let x = ((x_plane + xt) * ih + xh) * iw + xw;
                                        let w = ((w_plane + dt) * kh + dh) * kw + dw;
                                        f(y, x, w);
                                    }
                                }
                            }
                        }
                        y += 1;
                    }
                }
            }
        }
    }
}

/// x: (N, C, T, H, W), w: (O, C, KT, KH, KW), bias: (O) -> y: (N, O, T', H', W').
pub fn forward<T: Float>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Conv3dGeometry) -> Vec<T> {
    let plane: usize = g.output.iter().product();
    let mut y: Vec<T> = (0..g.batch * g.out_channels * plane)
        .map(|i| bias.map_or(T::zero(), |b| b[(i / plane) % g.out_channels]))
        .collect();
    for_each_tap(g, |yi, xi, wi| y[yi] = y[yi] + x[xi] * w[wi]);
    y
}

/// gy: (N, O, T', H', W'), w: (O, C, KT, KH, KW) -> gx: (N, C, T, H, W).
pub fn x_backward<T: Float>(gy: &[T], w: &[T], g: &Conv3dGeometry) -> Vec<T> {
    let mut gx = vec![T::zero(); g.input_dims().iter().product()];
    for_each_tap(g, |yi, xi, wi| gx[xi] = gx[xi] + gy[yi] * w[wi]);
    gx
}

/// gy: (N, O, T', H', W'), x: (N, C, T, H, W) -> gw: (O, C, KT, KH, KW).
pub fn weight_backward<T: Float>(gy: &[T], x: &[T], g: &Conv3dGeometry) -> Vec<T> {
    let mut gw = vec![T::zero(); g.weight_dims().iter().product()];
    for_each_tap(g, |yi, xi, wi| gw[wi] = gw[wi] + gy[yi] * x[xi]);
    gw
}

/// gy: (N, O, T', H', W') -> gb: (O).
pub fn bias_backward<T: Float>(gy: &[T], g: &Conv3dGeometry) -> Vec<T> {
    let plane: usize = g.output.iter().product();
    let mut gb = vec![T::zero(); g.out_channels];
    for (i, chunk) in gy.chunks(plane).enumerate() {
        let o = i % g.out_channels;
        gb[o] = chunk.iter().fold(gb[o], |acc, &v| acc + v);
    }
    gb
}

impl Conv3dOps for CpuReference {
    fn conv3d_forward(&self, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d";
        with_float!(OP, x, |T| {
            let y = forward::<T>(x.as_slice(OP)?, w.as_slice(OP)?, optional(bias, OP)?, g);
            Tensor::from_vec(&g.output_dims(), y)
        })
    }

    fn conv3d_x_backward(&self, gy: &Tensor, w: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_x_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.input_dims(),
            x_backward::<T>(gy.as_slice(OP)?, w.as_slice(OP)?, g)
        ))
    }

    fn conv3d_weight_backward(&self, gy: &Tensor, x: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_weight_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &g.weight_dims(),
            weight_backward::<T>(gy.as_slice(OP)?, x.as_slice(OP)?, g)
        ))
    }

    fn conv3d_bias_backward(&self, gy: &Tensor, g: &Conv3dGeometry) -> Result<Tensor> {
        const OP: &str = "conv3d_bias_backward";
        with_float!(OP, gy, |T| Tensor::from_vec(
            &[g.out_channels],
            bias_backward::<T>(gy.as_slice(OP)?, g)
        ))
    }
}

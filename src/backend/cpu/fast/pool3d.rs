//! Max pooling without padding and with stride = kernel (every C3D and VGG pool but C3D's
//! pool5): windows tile the input, so each output is a max over a block read row by row, with
//! no per-tap bounds checks. Candidates are visited in (t, h, w) order with a strict `>` (NaN
//! wins), exactly as the reference, so values and argmax agree bit for bit.

use crate::ops::geometry::Pool3dGeometry;

/// Whether `max_forward` applies: no padding, stride = kernel, and every window inside the
/// input (ceil mode can add a partial last window).
pub fn tiles(g: &Pool3dGeometry) -> bool {
    g.padding == [0; 3] && g.stride == g.kernel && (0..3).all(|a| g.output[a] * g.kernel[a] <= g.input[a])
}

/// x: planes of (T, H, W) -> y, argmax: planes of (T', H', W'); `g.planes` planes.
pub fn max_forward(x: &[f32], y: &mut [f32], arg: &mut [u32], g: &Pool3dGeometry) {
    let [it, ih, iw] = g.input;
    let [ot, oh, ow] = g.output;
    let [kt, kh, kw] = g.kernel;
    let (in_plane, out_plane) = (it * ih * iw, ot * oh * ow);
    for p in 0..g.planes {
        let xp = &x[p * in_plane..(p + 1) * in_plane];
        for zt in 0..ot {
            for zh in 0..oh {
                let o = p * out_plane + (zt * oh + zh) * ow;
                let (best, best_arg) = (&mut y[o..o + ow], &mut arg[o..o + ow]);
                best.fill(f32::NEG_INFINITY);
                best_arg.fill(u32::MAX);
                for dt in 0..kt {
                    for dh in 0..kh {
                        let r = ((zt * kt + dt) * ih + zh * kh + dh) * iw;
                        let row = &xp[r..r + iw];
                        for zw in 0..ow {
                            for dw in 0..kw {
                                let (w, v) = (zw * kw + dw, row[zw * kw + dw]);
                                let (b, a) = (best[zw], best_arg[zw]);
                                if a == u32::MAX || v > b || v.is_nan() && !b.is_nan() {
                                    best[zw] = v;
                                    best_arg[zw] = (r + w) as u32;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// gy, argmax: planes of (T', H', W') -> gx: planes of (T, H, W), overwritten; overlapping
/// windows add up (argmax indexes within a plane, as `max_forward` and the reference write it).
pub fn max_backward(gy: &[f32], arg: &[u32], gx: &mut [f32], g: &Pool3dGeometry) {
    let in_plane: usize = g.input.iter().product();
    let out_plane: usize = g.output.iter().product();
    gx.fill(0.0);
    for p in 0..g.planes {
        let gxp = &mut gx[p * in_plane..(p + 1) * in_plane];
        for (&d, &a) in gy[p * out_plane..(p + 1) * out_plane]
            .iter()
            .zip(&arg[p * out_plane..(p + 1) * out_plane])
        {
            if a != u32::MAX {
                gxp[a as usize] += d;
            }
        }
    }
}

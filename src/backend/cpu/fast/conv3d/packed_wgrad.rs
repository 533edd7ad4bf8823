//! f32 conv3d weight gradient on packed panels, skipping the temporal padding taps.
//!
//! gwᵀ (K × O) = Σ over samples of col (K × P) · gyᵀ (P × O), K in the time-tap-major order of
//! `packed_conv.rs`, k = (dt·C + c)·KH·KW + dh·KW + dw. The reduction runs over output
//! positions, and a row k of tap dt is zero on the positions whose tap lands on the temporal
//! padding: a prefix or a suffix of each block of positions, left out of the reduction.
//!
//! A panels are MR rows of col over a block of positions (written from x, interleaved); B
//! panels are 16 output channels of gy over the same positions (gy transposed). Threads own
//! disjoint groups of K rows and sum samples and position blocks in order: the result does not
//! depend on the thread count.

use rayon::prelude::*;

use super::im2col::{positions, runs, tap_run, valid_w};
use crate::backend::cpu::fast::microkernel::{multiply, tile_width, Panels, MR, NR};
use crate::backend::cpu::fast::send_ptr::SendPtr;
use crate::backend::cpu::fast::workspace::Scratch;
use crate::tensor::geometry::Conv3dGeometry;

/// Positions per reduction block: a B block (128 × O floats; 256 KB at O = 512) stays in L2
/// while the A panels of the task's K rows pass.
const KP: usize = 128;

/// Whether this path beats im2col + matrixmultiply: each packed col element is used O times, so
/// with few output channels the interleaved packing costs more than it saves, and with few
/// positions per sample the tiles are too shallow (C3D's conv5 at 2×7×7: 3× slower).
pub fn pays_off(g: &Conv3dGeometry) -> bool {
    g.out_channels >= 64 && positions(g) >= 2 * KP
}

/// MR rows of K starting at k0, all of temporal tap dt (a partial panel at the end of each tap).
#[derive(Clone, Copy)]
struct Panel {
    k0: usize,
    rows: usize,
    dt: usize,
}

fn panels(g: &Conv3dGeometry) -> Vec<Panel> {
    let per_dt = g.in_channels * g.kernel[1] * g.kernel[2];
    (0..g.kernel[0])
        .flat_map(|dt| {
            (0..per_dt).step_by(MR).map(move |r0| Panel {
                k0: dt * per_dt + r0,
                rows: MR.min(per_dt - r0),
                dt,
            })
        })
        .collect()
}

/// b (panels of NR channels; panel j at j·NR·len, position i's channels at i·width) = gyᵀ for
/// positions p0 .. p0 + len of one sample's gy (O, P).
fn pack_gy(gy: &[f32], o: usize, p: usize, p0: usize, len: usize, b: &mut [f32]) {
    for j in 0..o.div_ceil(NR) {
        let cols = (o - j * NR).min(NR);
        let width = tile_width(cols);
        let dst = &mut b[j * NR * len..][..width * len];
        if cols < width {
            dst.fill(0.0);
        }
        for q in 0..cols {
            let src = &gy[(j * NR + q) * p + p0..][..len];
            for (d, &v) in dst[q..].iter_mut().step_by(width).zip(src) {
                *d = v;
            }
        }
    }
}

/// row (len) = col row k over positions p0 .. p0 + len of one sample x (C, T, H, W).
fn col_row(g: &Conv3dGeometry, x: &[f32], k: usize, runs: &[(usize, usize, usize, usize, usize)], row: &mut [f32]) {
    let [it, ih, iw] = g.input;
    let [_, kh, kw] = g.kernel;
    let per_dt = g.in_channels * kh * kw;
    let (dt, ch, hw) = (k / per_dt, (k % per_dt) / (kh * kw), k % (kh * kw));
    let xc = &x[ch * it * ih * iw..][..it * ih * iw];
    for &(j, zt, zh, zw0, len) in runs {
        tap_run(g, xc, [dt, hw / kw, hw % kw], (zt, zh, zw0), &mut row[j..j + len]);
    }
}

/// gy: (N, O, T', H', W'), x: (N, C, T, H, W) -> gw: (O, C, KT, KH, KW).
pub fn weight_backward(gy: &[f32], x: &[f32], g: &Conv3dGeometry) -> Vec<f32> {
    let (o, c, p) = (g.out_channels, g.in_channels, positions(g));
    let [kt, kh, kw] = g.kernel;
    let (plane, k) = (kh * kw, c * kt * kh * kw);
    let x_len = c * g.input.iter().product::<usize>();
    let all = panels(g);
    let groups = (rayon::current_num_threads() * 2).min(all.len()).max(1);
    let per_group = all.len().div_ceil(groups);
    let mut gwt = vec![0f32; k * o];
    let out = SendPtr(gwt.as_mut_ptr());
    let b_len = KP * o.div_ceil(NR) * NR;
    all.par_chunks(per_group).for_each(|group| {
        f32::with_scratch(b_len + KP * (MR + 1), |scratch| {
            let (b, rest) = scratch.split_at_mut(b_len);
            let (a, row) = rest.split_at_mut(KP * MR);
            for n in 0..g.batch {
                let (gy_n, x_n) = (&gy[n * o * p..][..o * p], &x[n * x_len..][..x_len]);
                for p0 in (0..p).step_by(KP) {
                    let len = KP.min(p - p0);
                    pack_gy(gy_n, o, p, p0, len, b);
                    let runs = runs(g, p0, len);
                    for panel in group {
                        let (lo, hi) = real_columns(g, panel.dt, p0, len);
                        if lo >= hi {
                            continue;
                        }
                        for r in 0..panel.rows {
                            col_row(g, x_n, panel.k0 + r, &runs, &mut row[..len]);
                            for (d, &v) in a[r..].iter_mut().step_by(MR).zip(&row[..len]) {
                                *d = v;
                            }
                        }
                        let (depth, skip) = (hi - lo, lo);
                        let a_panel = Panels {
                            ptr: a.as_ptr(),
                            stride: 0,
                        };
                        let b_panels = Panels {
                            ptr: b.as_ptr(),
                            stride: NR * len,
                        };
                        // (rows × O) of gwᵀ += A (rows × depth) · B (depth × O), over the
                        // block's real positions skip .. skip + depth.
                        // Safety: A holds len·MR floats, B panel j len·width; the C rows are
                        // this group's rows of gwᵀ (k0 .. k0 + rows), written by no other task.
                        unsafe {
                            multiply(
                                depth,
                                skip,
                                a_panel,
                                panel.rows,
                                b_panels,
                                o,
                                out.get().add(panel.k0 * o),
                                o,
                            )
                        };
                    }
                }
            }
        })
    });
    // gw[oi, ch, dt, hw] = gwᵀ[(dt·C + ch)·plane + hw, oi], in parallel over groups of output
    // channels: each reads `OB` adjacent floats of every row of gwᵀ (a row is O floats apart).
    const OB: usize = 16;
    let mut gw = vec![0f32; o * k];
    gw.par_chunks_mut(OB * k).enumerate().for_each(|(b, gw_b)| {
        let o0 = b * OB;
        for (row, src) in gwt.chunks_exact(o).enumerate() {
            let (dtc, hw) = (row / plane, row % plane);
            let (dt, ch) = (dtc / c, dtc % c);
            let at = (ch * kt + dt) * plane + hw;
            for (i, &v) in src[o0..].iter().take(gw_b.len() / k).enumerate() {
                gw_b[i * k + at] = v;
            }
        }
    });
    gw
}

/// The block columns (relative to p0) whose temporal tap `dt` is inside the input.
fn real_columns(g: &Conv3dGeometry, dt: usize, p0: usize, cols: usize) -> (usize, usize) {
    let [ot, oh, ow] = g.output;
    let (zlo, zhi) = valid_w(0, ot, dt, g.stride[0], g.padding[0], g.input[0]);
    let plane = oh * ow;
    let (lo, hi) = ((zlo * plane).max(p0), (zhi * plane).min(p0 + cols));
    if lo >= hi {
        (0, 0)
    } else {
        (lo - p0, hi - p0)
    }
}

//! Conv3d as im2col + GEMM over blocks of output positions, f32 or f64, multi-threaded: the path
//! for every type, CPU and geometry without a SIMD path (`super::ConvFloat`), and the tap helpers
//! the SIMD paths share.
//!
//! Per sample, the output (O, P) with P = T'·H'·W' is W (O × CK) · col (CK × P), where col's row
//! r = (c, kt, kh, kw) holds the input tap of every output position (zero on the padding) and
//! CK = C·KT·KH·KW. col is never built whole (C3D conv2a's would be 350 MB): each task builds the
//! columns of one block of positions in its thread's scratch buffer.
//!
//! Work is split so that no two threads write the same element, and every sum runs in a fixed
//! order for a given thread count: bit-for-bit reproducible runs.
//! - forward: tasks = (sample, position block); each writes its own output columns;
//! - input gradient: tasks = (sample, channel range); gcol = Wᵀ·gy for those channels' rows, then
//!   col2im adds into those channels only;
//! - weight gradient: tasks = fixed contiguous groups of (sample, block); each sums its blocks'
//!   gy·colᵀ in order into a private partial; partials are added in group order (with fewer
//!   blocks than threads: slices of output channels, each summing all blocks in order).

use rayon::prelude::*;

use crate::backend::cpu::fast::gemm::{gemm, FastFloat, MatRef};
use crate::backend::cpu::fast::send_ptr::SendPtr;
use crate::backend::cpu::fast::workspace::Scratch;
use crate::tensor::geometry::Conv3dGeometry;
use crate::tensor::Float;

/// Output positions per block: as wide as possible, since every GEMM call packs the whole
/// weight matrix again (for deep layers, with few positions and large C·K, that packing costs
/// as much as the multiply), while two threads' blocks of columns (2M elements each) still fit
/// the 32 MB L3 for the GEMM's packing. Blocks of one sample are balanced in width.
fn block_width(g: &Conv3dGeometry) -> usize {
    let (p, ck) = (positions(g), rows(g).max(1));
    let cap = ((2 << 20) / ck).clamp(16, 4096);
    p.div_ceil(p.div_ceil(cap)).max(1)
}

/// Output-channel slices per block: with fewer (sample, block) tasks than threads (deep layers
/// at batch 1), each block's output channels are split so every thread has work — and each
/// packs only its slice of the weights.
fn channel_slices(g: &Conv3dGeometry, blocks: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    if blocks >= threads {
        return 1;
    }
    threads.div_ceil(blocks).min(g.out_channels.div_ceil(32)).max(1)
}

pub(super) fn positions(g: &Conv3dGeometry) -> usize {
    g.output.iter().product()
}

fn rows(g: &Conv3dGeometry) -> usize {
    g.in_channels * g.kernel.iter().product::<usize>()
}

/// Input coordinate of output coordinate `o` and tap `k` on axis `a`, if inside the input.
#[inline]
pub(super) fn tap(g: &Conv3dGeometry, a: usize, o: usize, k: usize) -> Option<usize> {
    let i = (o * g.stride[a] + k) as isize - g.padding[a] as isize;
    (i >= 0 && (i as usize) < g.input[a]).then_some(i as usize)
}

/// The output positions p0 .. p0 + width split into runs along W: (j, zt, zh, zw0, len), where
/// positions j .. j+len of the block share (zt, zh) and have zw = zw0 .. zw0+len.
pub(super) fn runs(g: &Conv3dGeometry, p0: usize, width: usize) -> Vec<(usize, usize, usize, usize, usize)> {
    let [_, oh, ow] = g.output;
    let mut out = Vec::with_capacity(width / ow.max(1) + 2);
    let (mut j, mut p) = (0, p0);
    while j < width {
        let (zt, zh, zw) = (p / (oh * ow), (p / ow) % oh, p % ow);
        let len = (ow - zw).min(width - j);
        out.push((j, zt, zh, zw, len));
        j += len;
        p += len;
    }
    out
}

/// The range of output W positions zw (within zw0 .. zw0+len) whose tap dw lands inside the
/// input, for stride `s` and padding `pad`: those with 0 ≤ zw·s + dw − pad < iw.
#[inline(always)]
pub(super) fn valid_w(zw0: usize, len: usize, dw: usize, s: usize, pad: usize, iw: usize) -> (usize, usize) {
    if s == 1 {
        // The common case, without the divisions (this runs once per im2col run).
        let (lo, hi) = (pad.saturating_sub(dw), (iw + pad).saturating_sub(dw));
        return (lo.clamp(zw0, zw0 + len), hi.clamp(zw0, zw0 + len));
    }
    // zw·s + dw ≥ pad  ⇔  zw ≥ ceil((pad − dw) / s)
    let lo = if dw >= pad { 0 } else { (pad - dw).div_ceil(s) };
    // zw·s + dw − pad ≤ iw − 1  ⇔  zw ≤ (iw − 1 + pad − dw) / s
    let hi = if iw + pad > dw { (iw - 1 + pad - dw) / s + 1 } else { 0 };
    (lo.clamp(zw0, zw0 + len), hi.clamp(zw0, zw0 + len))
}

/// dst = the input taps (dt, dh, dw) of the output positions (zt, zh, zw0 .. zw0 + dst.len()) of
/// one channel xc (T, H, W): a stretch of one im2col row, zero where a tap is on the padding.
#[inline(always)]
pub(super) fn tap_run<T: Float>(
    g: &Conv3dGeometry,
    xc: &[T],
    [dt, dh, dw]: [usize; 3],
    (zt, zh, zw0): (usize, usize, usize),
    dst: &mut [T],
) {
    let [_, ih, iw] = g.input;
    let (sw, pw) = (g.stride[2], g.padding[2]);
    let (Some(t), Some(h)) = (tap(g, 0, zt, dt), tap(g, 1, zh, dh)) else {
        dst.fill(T::zero());
        return;
    };
    let row = &xc[(t * ih + h) * iw..][..iw];
    let (lo, hi) = valid_w(zw0, dst.len(), dw, sw, pw, iw);
    // Most runs touch no padding: skip the empty fills (each would be a call into memset).
    if lo > zw0 {
        dst[..lo - zw0].fill(T::zero());
    }
    if hi < zw0 + dst.len() {
        dst[hi - zw0..].fill(T::zero());
    }
    if lo == hi {
        // The whole run is on the padding (a short run beside padding ≥ 2).
        return;
    }
    if sw == 1 {
        let w0 = lo + dw - pw;
        dst[lo - zw0..hi - zw0].copy_from_slice(&row[w0..w0 + (hi - lo)]);
    } else {
        for zw in lo..hi {
            dst[zw - zw0] = row[zw * sw + dw - pw];
        }
    }
}

/// Fills col (rows(g) × width, row-major; row r = (c, kt, kh, kw)) with the taps of output
/// positions p0 .. p0 + width of one sample x (C, T, H, W); zero where a tap is on the padding.
fn im2col_block<T: FastFloat>(g: &Conv3dGeometry, x: &[T], col: &mut [T], p0: usize, width: usize) {
    let [it, ih, iw] = g.input;
    let [kt, kh, kw] = g.kernel;
    let runs = runs(g, p0, width);
    for c in 0..g.in_channels {
        let xc = &x[c * it * ih * iw..(c + 1) * it * ih * iw];
        for dt in 0..kt {
            for dh in 0..kh {
                for dw in 0..kw {
                    let r = ((c * kt + dt) * kh + dh) * kw + dw;
                    let dst = &mut col[r * width..(r + 1) * width];
                    for &(j, zt, zh, zw0, len) in &runs {
                        tap_run(g, xc, [dt, dh, dw], (zt, zh, zw0), &mut dst[j..j + len]);
                    }
                }
            }
        }
    }
}

/// The transpose of `im2col_block` for channels c0 .. c1: adds col's rows (c − c0, kt, kh, kw)
/// into gx (c1 − c0, T, H, W).
fn col2im_block<T: FastFloat>(
    g: &Conv3dGeometry,
    col: &[T],
    gx: &mut [T],
    channels: (usize, usize),
    p0: usize,
    width: usize,
) {
    let [it, ih, iw] = g.input;
    let [kt, kh, kw] = g.kernel;
    let (sw, pw) = (g.stride[2], g.padding[2]);
    let runs = runs(g, p0, width);
    for c in channels.0..channels.1 {
        let gxc = &mut gx[(c - channels.0) * it * ih * iw..][..it * ih * iw];
        for dt in 0..kt {
            for dh in 0..kh {
                for dw in 0..kw {
                    let r = (((c - channels.0) * kt + dt) * kh + dh) * kw + dw;
                    let src = &col[r * width..(r + 1) * width];
                    for &(j, zt, zh, zw0, len) in &runs {
                        let (Some(t), Some(h)) = (tap(g, 0, zt, dt), tap(g, 1, zh, dh)) else {
                            continue;
                        };
                        let row = &mut gxc[(t * ih + h) * iw..(t * ih + h + 1) * iw];
                        let (lo, hi) = valid_w(zw0, len, dw, sw, pw, iw);
                        let part = &src[j + lo - zw0..j + hi - zw0];
                        if sw == 1 {
                            let w0 = lo + dw - pw;
                            row[w0..w0 + part.len()]
                                .iter_mut()
                                .zip(part)
                                .for_each(|(d, &v)| *d = *d + v);
                        } else {
                            for (zw, &v) in (lo..hi).zip(part) {
                                row[zw * sw + dw - pw] = row[zw * sw + dw - pw] + v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The (sample, first position, width) blocks covering all outputs, in a fixed order.
fn blocks(g: &Conv3dGeometry) -> Vec<(usize, usize, usize)> {
    let (p, nb) = (positions(g), block_width(g));
    (0..g.batch)
        .flat_map(|n| (0..p).step_by(nb).map(move |p0| (n, p0, nb.min(p - p0))))
        .collect()
}

/// x: (N, C, T, H, W), w: (O, C, KT, KH, KW), bias: (O) -> (N, O, T', H', W').
pub fn forward<T: FastFloat + Scratch>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Conv3dGeometry) -> Vec<T> {
    let (p, ck, o) = (positions(g), rows(g), g.out_channels);
    let x_len = g.in_channels * g.input.iter().product::<usize>();
    let mut y = vec![T::zero(); g.batch * o * p];
    let out = SendPtr(y.as_mut_ptr());
    let blocks = blocks(g);
    let slices = channel_slices(g, blocks.len());
    let per_slice = o.div_ceil(slices);
    let tasks: Vec<_> = blocks
        .iter()
        .flat_map(|&b| {
            (0..o)
                .step_by(per_slice)
                .map(move |o0| (b, o0, (o0 + per_slice).min(o)))
        })
        .collect();
    tasks.into_par_iter().for_each(|((n, p0, width), o0, o1)| {
        T::with_scratch(ck * width, |col| {
            im2col_block(g, &x[n * x_len..(n + 1) * x_len], col, p0, width);
            // Safety: this task alone writes rows o0 .. o1, columns p0 .. p0+width of sample n's
            // (O × P) output.
            let dst = unsafe { out.get().add((n * o + o0) * p + p0) };
            // (o1 − o0 × width) = W[o0 .. o1] (o1 − o0 × CK) · col (CK × width).
            unsafe {
                gemm(
                    o1 - o0,
                    width,
                    ck,
                    MatRef::rows(&w[o0 * ck..o1 * ck], ck),
                    MatRef::rows(col, width),
                    dst,
                    p,
                    false,
                )
            };
            if let Some(b) = bias {
                for (oc, &bv) in b[o0..o1].iter().enumerate() {
                    // Safety: same rows and columns as above.
                    let row = unsafe { std::slice::from_raw_parts_mut(dst.add(oc * p), width) };
                    row.iter_mut().for_each(|v| *v = *v + bv);
                }
            }
        })
    });
    y
}

/// gy: (N, O, T', H', W'), w: (O, C, KT, KH, KW) -> gx: (N, C, T, H, W).
pub fn x_backward<T: FastFloat + Scratch>(gy: &[T], w: &[T], g: &Conv3dGeometry) -> Vec<T> {
    let (p, o, k) = (positions(g), g.out_channels, g.kernel.iter().product::<usize>());
    let ck = rows(g);
    let plane: usize = g.input.iter().product();
    let mut gx = vec![T::zero(); g.batch * g.in_channels * plane];
    let threads = rayon::current_num_threads().max(1);
    // Channel ranges: enough tasks to keep every thread busy even at batch 1.
    let per_task = g.in_channels.div_ceil(threads.div_ceil(g.batch).max(1)).max(1);
    let nb = block_width(g);
    gx.par_chunks_mut(per_task * plane)
        .enumerate()
        .for_each(|(task, gx_part)| {
            let chans_per_sample = g.in_channels.div_ceil(per_task);
            let (n, c0) = (task / chans_per_sample, (task % chans_per_sample) * per_task);
            let c1 = (c0 + per_task).min(g.in_channels);
            let sub_rows = (c1 - c0) * k;
            let gy_n = &gy[n * o * p..(n + 1) * o * p];
            T::with_scratch(sub_rows * nb, |gcol| {
                for p0 in (0..p).step_by(nb) {
                    let width = nb.min(p - p0);
                    let gcol = &mut gcol[..sub_rows * width];
                    // (sub_rows × width) = Wᵀ[c0·K .. c1·K] (sub_rows × O) · gy (O × width).
                    let wt = MatRef {
                        data: &w[c0 * k..],
                        rs: 1,
                        cs: ck,
                    };
                    let gy_block = MatRef {
                        data: &gy_n[p0..],
                        rs: p,
                        cs: 1,
                    };
                    // Safety: gcol is this task's own scratch buffer of sub_rows × width elements.
                    unsafe { gemm(sub_rows, width, o, wt, gy_block, gcol.as_mut_ptr(), width, false) };
                    col2im_block(g, gcol, gx_part, (c0, c1), p0, width);
                }
            })
        });
    gx
}

/// gw[o0 .. o1] (o1 − o0 × CK) += Σ over `blocks`, in order, of gy block · colᵀ.
fn weight_grad_rows<T: FastFloat + Scratch>(
    gy: &[T],
    x: &[T],
    g: &Conv3dGeometry,
    blocks: &[(usize, usize, usize)],
    (o0, o1): (usize, usize),
    gw: &mut [T],
) {
    let (p, o, ck) = (positions(g), g.out_channels, rows(g));
    let x_len = g.in_channels * g.input.iter().product::<usize>();
    for &(n, p0, width) in blocks {
        T::with_scratch(ck * width, |col| {
            im2col_block(g, &x[n * x_len..(n + 1) * x_len], col, p0, width);
            // (o1 − o0 × CK) += gy block (o1 − o0 × width) · colᵀ (width × CK).
            let gy_block = MatRef {
                data: &gy[(n * o + o0) * p + p0..],
                rs: p,
                cs: 1,
            };
            // Safety: gw is this task's own (o1 − o0 × CK) buffer.
            unsafe {
                gemm(
                    o1 - o0,
                    ck,
                    width,
                    gy_block,
                    MatRef::transposed(col, width),
                    gw.as_mut_ptr(),
                    ck,
                    true,
                )
            };
        });
    }
}

/// gy: (N, O, T', H', W'), x: (N, C, T, H, W) -> gw: (O, C, KT, KH, KW). With at least as many
/// blocks as threads, fixed groups of blocks sum into private partials added in group order;
/// with fewer (deep layers at batch 1), threads take slices of output channels instead and
/// write their rows of gw directly.
pub fn weight_backward<T: FastFloat + Scratch>(gy: &[T], x: &[T], g: &Conv3dGeometry) -> Vec<T> {
    let (o, ck) = (g.out_channels, rows(g));
    let all = blocks(g);
    let slices = channel_slices(g, all.len());
    if slices > 1 {
        let per_slice = o.div_ceil(slices);
        let mut gw = vec![T::zero(); o * ck];
        gw.par_chunks_mut(per_slice * ck).enumerate().for_each(|(s, part)| {
            let o0 = s * per_slice;
            weight_grad_rows(gy, x, g, &all, (o0, o0 + part.len() / ck), part);
        });
        return gw;
    }
    let groups = rayon::current_num_threads().max(1).min(all.len());
    let per_group = all.len().div_ceil(groups);
    let partials: Vec<Vec<T>> = all
        .par_chunks(per_group)
        .map(|group| {
            let mut gw = vec![T::zero(); o * ck];
            weight_grad_rows(gy, x, g, group, (0, o), &mut gw);
            gw
        })
        .collect();
    let mut total = partials.into_iter();
    let mut gw = total.next().unwrap_or_else(|| vec![T::zero(); o * ck]);
    for part in total {
        gw.iter_mut().zip(part).for_each(|(a, b)| *a = *a + b);
    }
    gw
}

/// gy: (N, O, T', H', W') -> gb: (O), each channel summed in a fixed order in f64: gradients
/// of mixed sign cancel, and an f32 running sum over thousands of positions loses digits.
pub fn bias_backward<T: FastFloat>(gy: &[T], g: &Conv3dGeometry) -> Vec<T> {
    let p = positions(g);
    (0..g.out_channels)
        .into_par_iter()
        .map(|oc| {
            let total: f64 = (0..g.batch)
                .flat_map(|n| gy[(n * g.out_channels + oc) * p..][..p].iter())
                .map(|v| v.to_f64_lossless())
                .sum();
            T::from_f64_lossy(total)
        })
        .collect()
}

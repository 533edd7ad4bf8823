//! f32 conv3d computed directly (AVX2 + FMA, or AVX-512), for stride-1 layers with few input or
//! output channels (see `applies`).
//!
//! The first layers (C3D's conv1a, 3 → 64; the tiny models' conv1 and conv2, 3 → 8 and 8 → 16)
//! have C·KH·KW of 27 or 72 rows per temporal tap. Through im2col, every input value is copied
//! 27 times to feed a GEMM whose tiles are too shallow to pay for loading and storing C. Here
//! the output rows are accumulated in registers straight from the input rows, read at an offset
//! per W tap: the input is first copied once with its W padding written out as zeros
//! (`padded_input`), so no load needs a bounds check; taps on the T and H padding are skipped.
//!
//! - Forward: a tile is `OB` output channels × 16 positions of one output row (8 ymm
//!   accumulators); per tap, 4 broadcast weights and 2 input vectors feed 8 FMAs. At the
//!   AVX-512 level (`avx512`), 64 positions of a row, 32 of two rows or 16 of four (narrow
//!   rows): 4 weights and 4 zmm input vectors feed 16 FMAs.
//! - Weight gradient: a task owns `WR` output channels × one input channel × one sample and
//!   accumulates gy · (input shifted by the tap) over its positions, 9 vector sums per (dt, dh)
//!   (one per (channel, dw)); the samples' sums are added in order at the end.
//!
//! Every output is summed in one fixed order (forward: bias, then (c, dt, dh, dw) ascending;
//! weight gradient: positions in order within each lane, the lanes, then the samples), so the
//! results do not depend on the thread count.

use rayon::prelude::*;

use super::im2col::{positions, tap};
use super::packed::{flipped_weights, transposed};
use crate::backend::cpu::fast::isa::{self, CpuIsa};
use crate::backend::cpu::fast::microkernel::{has_avx2_fma, LANES};
use crate::backend::cpu::fast::send_ptr::SendPtr;
use crate::tensor::geometry::Conv3dGeometry;

/// Output channels per forward tile.
const OB: usize = 4;
/// Output positions (along W) per forward tile: two ymm vectors.
const TILE_W: usize = 2 * LANES;
/// f32 lanes of a zmm register.
const ZLANES: usize = 16;
/// Output positions per forward tile at the AVX-512 level: four zmm vectors.
const TILE_W512: usize = 4 * ZLANES;

/// (zmm vectors along W, output rows) of the AVX-512 forward tiles for output rows `ow` wide:
/// narrow rows take several rows per tile, so that a tile always has 16 accumulators (enough
/// independent FMA chains to cover the latency; one 16-wide row would give 4).
fn wide_tile(ow: usize) -> (usize, usize) {
    match ow {
        0..=16 => (1, 4),
        17..=32 => (2, 2),
        _ => (TILE_W512 / ZLANES, 1),
    }
}
/// Output channels per weight-gradient task: 3 channels × 3 W taps = 9 accumulators, plus 3 gy
/// vectors and an input vector, fit the 16 ymm registers.
const WR: usize = 3;
/// The W kernel width this path is written for (every model's).
const KW: usize = 3;

/// Whether `g` runs here: stride 1, three W taps, output rows at least one vector wide, and
/// either shallow rows per temporal tap (where the packed GEMM's tiles are too shallow; see
/// `packed_conv::pays_off`) or few output channels. The direct tiles read the input rows once per
/// group of OB output channels: with up to 32 channels that costs less than im2col (the tiny
/// models' conv3–conv4 run 2–2.4× faster here), with C3D's 64–512 the packed GEMM's reuse wins
/// (conv2a–conv4b ran 1.2–1.9× slower here).
pub fn applies(g: &Conv3dGeometry) -> bool {
    let shallow = g.in_channels * g.kernel[1] * g.kernel[2] < 128;
    g.stride == [1; 3] && g.kernel[2] == KW && g.output[2] >= LANES && (shallow || g.out_channels <= 32)
}

/// x (N, C, T, H, W) with each row widened to `row` floats: `padding[2]` zeros, the row's W
/// values, then zeros. `row` ≥ the widest read, so tiles read any W tap without bounds checks.
fn padded_input(g: &Conv3dGeometry, x: &[f32], row: usize) -> Vec<f32> {
    let (iw, pw) = (g.input[2], g.padding[2]);
    debug_assert!(row >= iw + 2 * pw);
    let mut out = vec![0f32; x.len() / iw * row];
    out.par_chunks_mut(row)
        .zip(x.par_chunks(iw))
        .with_min_len(256)
        .for_each(|(dst, src)| dst[pw..pw + iw].copy_from_slice(src));
    out
}

/// The padded row length that covers every tile's reads: output positions rounded up to 16
/// (a row's last tile, at either level, takes as few 8- or 16-lane vectors as cover its
/// columns), plus the W taps' reach.
fn padded_row(g: &Conv3dGeometry) -> usize {
    g.output[2].next_multiple_of(TILE_W) + KW - 1
}

/// The weights (O, C, KT, KH, KW) regrouped for the forward tiles: for each group of OB output
/// channels and each (c, dt, dh, dw), the group's OB weights side by side (zeros past O).
fn grouped_weights(w: &[f32], g: &Conv3dGeometry) -> Vec<f32> {
    let o = g.out_channels;
    let per_o = w.len() / o;
    let mut out = vec![0f32; o.div_ceil(OB) * OB * per_o];
    for (oi, w_o) in w.chunks(per_o).enumerate() {
        for (k, &v) in w_o.iter().enumerate() {
            out[((oi / OB) * per_o + k) * OB + oi % OB] = v;
        }
    }
    out
}

/// x: (N, C, T, H, W), w: (O, C, KT, KH, 3), bias: (O) -> (N, O, T', H', W'), for a geometry
/// that `applies`, on a CPU with AVX2 and FMA.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Conv3dGeometry) -> Vec<f32> {
    assert!(
        applies(g) && has_avx2_fma(),
        "direct conv3d: unsupported geometry or CPU"
    );
    let [ot, oh, ow] = g.output;
    let (o, p, row) = (g.out_channels, positions(g), padded_row(g));
    let xp = padded_input(g, x, row);
    let wg = grouped_weights(w, g);
    let groups = o.div_ceil(OB);
    let (sample, group_len) = (xp.len() / g.batch, wg.len() / groups);
    let mut y = vec![0f32; g.batch * o * p];
    let out = SendPtr(y.as_mut_ptr());
    // One task per (sample, channel group, output frame): disjoint outputs, enough tasks.
    (0..g.batch * groups * ot).into_par_iter().for_each(|task| {
        let (n, grp, zt) = (task / (groups * ot), task / ot % groups, task % ot);
        let rows = OB.min(o - grp * OB);
        let bias = std::array::from_fn(|r| bias.map_or(0.0, |b| b[(grp * OB + r).min(o - 1)]));
        let (xn, wk) = (&xp[n * sample..][..sample], &wg[grp * group_len..][..group_len]);
        if isa::active() == CpuIsa::Avx512 {
            let (nv, tile_rows) = wide_tile(ow);
            let mut zh = 0;
            while zh < oh {
                // The last rows that fill no tile go one at a time.
                let rr = if zh + tile_rows <= oh { tile_rows } else { 1 };
                for zw0 in (0..ow).step_by(nv * ZLANES) {
                    let cols = (nv * ZLANES).min(ow - zw0);
                    // Safety: this task alone writes channels grp·OB .. + rows of frame zt; the
                    // tile reads stay inside xn and wk (see `padded_row`); AVX-512 is present.
                    unsafe {
                        let dst = out.get().add((n * o + grp * OB) * p + (zt * oh + zh) * ow + zw0);
                        let args = (g, xn, row, wk, bias, (zt, zh, zw0), dst, p, rows, cols);
                        match (rr, cols.div_ceil(ZLANES)) {
                            (4, _) => avx512::forward_tile::<1, 4>(args),
                            (2, 1) => avx512::forward_tile::<1, 2>(args),
                            (2, _) => avx512::forward_tile::<2, 2>(args),
                            (_, 1) => avx512::forward_tile::<1, 1>(args),
                            (_, 2) => avx512::forward_tile::<2, 1>(args),
                            (_, 3) => avx512::forward_tile::<3, 1>(args),
                            (_, _) => avx512::forward_tile::<4, 1>(args),
                        }
                    }
                }
                zh += rr;
            }
            return;
        }
        for zh in 0..oh {
            for zw0 in (0..ow).step_by(TILE_W) {
                // Safety: this task alone writes channels grp·OB .. + rows of frame zt; the tile
                // reads stay inside xn and wk (see `padded_row`); AVX2 + FMA are present.
                unsafe {
                    let dst = out.get().add((n * o + grp * OB) * p + (zt * oh + zh) * ow + zw0);
                    let (at, cols) = ((zt, zh, zw0), TILE_W.min(ow - zw0));
                    // Rows of at most 8 positions (and such last tiles) take the one-vector tile.
                    if cols > LANES {
                        avx2::forward_tile::<2>(g, xn, row, wk, bias, at, dst, p, rows, cols);
                    } else {
                        avx2::forward_tile::<1>(g, xn, row, wk, bias, at, dst, p, rows, cols);
                    }
                }
            }
        }
    });
    y
}

/// The input gradient gx (N, C, T, H, W) of `forward` from gy (N, O, T', H', W'), as the
/// convolution of gy with the flipped weights (`packed_conv::transposed`); None where that
/// convolution does not run here.
pub fn x_backward(gy: &[f32], w: &[f32], g: &Conv3dGeometry) -> Option<Vec<f32>> {
    let t = transposed(g).filter(applies)?;
    Some(forward(gy, &flipped_weights(w, g), None, &t))
}

/// The weight gradient gw (O, C, KT, KH, 3) of `forward`, from gy (N, O, T', H', W') and x.
pub fn weight_backward(gy: &[f32], x: &[f32], g: &Conv3dGeometry) -> Vec<f32> {
    assert!(
        applies(g) && has_avx2_fma(),
        "direct conv3d: unsupported geometry or CPU"
    );
    let (o, c, p, row) = (g.out_channels, g.in_channels, positions(g), padded_row(g));
    let taps = g.kernel.iter().product::<usize>();
    let xp = padded_input(g, x, row);
    let groups = o.div_ceil(WR);
    let sample = xp.len() / g.batch;
    // partial[n][grp][c][tap][r]: each task's sums, added over samples in order below.
    let mut partial = vec![0f32; g.batch * groups * c * taps * WR];
    partial.par_chunks_mut(taps * WR).enumerate().for_each(|(task, sums)| {
        let (n, grp, ci) = (task / (groups * c), task / c % groups, task % c);
        let rows = WR.min(o - grp * WR);
        let gy_rows: [&[f32]; WR] = std::array::from_fn(|r| &gy[(n * o + grp * WR + r.min(rows - 1)) * p..][..p]);
        let xn = &xp[n * sample..][..sample];
        // Safety: the level's features are present (AVX2 + FMA asserted above).
        unsafe {
            if isa::active() == CpuIsa::Avx512 {
                avx512::weight_task(g, gy_rows, xn, row, ci, sums)
            } else {
                avx2::weight_task(g, gy_rows, xn, row, ci, sums)
            }
        };
    });
    let mut gw = vec![0f32; o * c * taps];
    for (oi, gw_o) in gw.chunks_mut(c * taps).enumerate() {
        let (grp, r) = (oi / WR, oi % WR);
        for (ci, gw_c) in gw_o.chunks_mut(taps).enumerate() {
            for (tap, v) in gw_c.iter_mut().enumerate() {
                *v = (0..g.batch)
                    .map(|n| partial[(((n * groups + grp) * c + ci) * taps + tap) * WR + r])
                    .sum();
            }
        }
    }
    gw
}

// The register tiles index several arrays by the same lane or tap: plain index loops read best.
#[allow(clippy::needless_range_loop)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{tap, Conv3dGeometry, KW, LANES, OB, TILE_W, WR};

    /// One forward tile: output channels 0 .. rows (≤ OB) of the weight group `wk` (taps × OB)
    /// at output positions (zt, zh, zw0 .. zw0 + cols), cols ≤ NV·8, written to `dst` (channel
    /// stride `p`). `xn` is one sample's padded input with rows of `row` floats.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn forward_tile<const NV: usize>(
        g: &Conv3dGeometry,
        xn: &[f32],
        row: usize,
        wk: &[f32],
        bias: [f32; OB],
        (zt, zh, zw0): (usize, usize, usize),
        dst: *mut f32,
        p: usize,
        rows: usize,
        cols: usize,
    ) {
        let [it, ih, _] = g.input;
        let [kt, kh, _] = g.kernel;
        let mut acc: [[__m256; NV]; OB] = std::array::from_fn(|r| [_mm256_set1_ps(bias[r]); NV]);
        for c in 0..g.in_channels {
            for dt in 0..kt {
                let Some(t) = tap(g, 0, zt, dt) else { continue };
                for dh in 0..kh {
                    let Some(h) = tap(g, 1, zh, dh) else { continue };
                    let src = xn[((c * it + t) * ih + h) * row + zw0..][..NV * LANES + KW - 1].as_ptr();
                    let w = wk[((c * kt + dt) * kh + dh) * KW * OB..][..KW * OB].as_ptr();
                    for dw in 0..KW {
                        let wv: [__m256; OB] = std::array::from_fn(|r| _mm256_broadcast_ss(&*w.add(dw * OB + r)));
                        for v in 0..NV {
                            let xv = _mm256_loadu_ps(src.add(dw + v * LANES));
                            for r in 0..OB {
                                acc[r][v] = _mm256_fmadd_ps(wv[r], xv, acc[r][v]);
                            }
                        }
                    }
                }
            }
        }
        if rows == OB && cols == NV * LANES {
            for (r, acc_r) in acc.iter().enumerate() {
                for (v, &a) in acc_r.iter().enumerate() {
                    _mm256_storeu_ps(dst.add(r * p + v * LANES), a);
                }
            }
        } else {
            let mut spill = [0f32; TILE_W];
            for (r, acc_r) in acc.iter().enumerate().take(rows) {
                for (v, &a) in acc_r.iter().enumerate() {
                    _mm256_storeu_ps(spill.as_mut_ptr().add(v * LANES), a);
                }
                std::ptr::copy_nonoverlapping(spill.as_ptr(), dst.add(r * p), cols);
            }
        }
    }

    /// Lane mask of the first `n` lanes (n ≤ 8).
    #[target_feature(enable = "avx2")]
    unsafe fn first_lanes(n: usize) -> __m256i {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lane)
    }

    /// One weight-gradient task: sums[tap·WR + r] = Σ over one sample's output positions of
    /// gy_rows[r] · (input channel `ci` at the position's tap), for every tap (dt, dh, dw).
    /// `xn` is the sample's padded input (rows of `row` floats).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn weight_task(
        g: &Conv3dGeometry,
        gy_rows: [&[f32]; WR],
        xn: &[f32],
        row: usize,
        ci: usize,
        sums: &mut [f32],
    ) {
        let [ot, oh, ow] = g.output;
        let [it, ih, _] = g.input;
        let [kt, kh, _] = g.kernel;
        // One set of WR × KW vector sums per (dt, dh), kept in memory between output rows.
        let mut acc_mem = vec![[[_mm256_setzero_ps(); KW]; WR]; kt * kh];
        let (full, tail) = (ow / LANES * LANES, ow % LANES);
        let mask = first_lanes(tail);
        for zt in 0..ot {
            for zh in 0..oh {
                let q = (zt * oh + zh) * ow;
                let gq: [*const f32; WR] = std::array::from_fn(|r| gy_rows[r][q..q + ow].as_ptr());
                for dt in 0..kt {
                    let Some(t) = tap(g, 0, zt, dt) else { continue };
                    for dh in 0..kh {
                        let Some(h) = tap(g, 1, zh, dh) else { continue };
                        let src = xn[((ci * it + t) * ih + h) * row..][..ow + KW - 1].as_ptr();
                        let acc = &mut acc_mem[dt * kh + dh];
                        let mut a = *acc;
                        let mut zw = 0;
                        while zw < full {
                            let gv: [__m256; WR] = std::array::from_fn(|r| _mm256_loadu_ps(gq[r].add(zw)));
                            for dw in 0..KW {
                                let xv = _mm256_loadu_ps(src.add(zw + dw));
                                for r in 0..WR {
                                    a[r][dw] = _mm256_fmadd_ps(gv[r], xv, a[r][dw]);
                                }
                            }
                            zw += LANES;
                        }
                        if tail > 0 {
                            // Masked loads: lanes past the row read nothing (zero), so they add
                            // exactly zero even where the input beyond holds inf or NaN.
                            let gv: [__m256; WR] = std::array::from_fn(|r| _mm256_maskload_ps(gq[r].add(zw), mask));
                            for dw in 0..KW {
                                let xv = _mm256_maskload_ps(src.add(zw + dw), mask);
                                for r in 0..WR {
                                    a[r][dw] = _mm256_fmadd_ps(gv[r], xv, a[r][dw]);
                                }
                            }
                        }
                        *acc = a;
                    }
                }
            }
        }
        let mut lanes = [0f32; LANES];
        for (tdh, acc) in acc_mem.iter().enumerate() {
            for (r, acc_r) in acc.iter().enumerate() {
                for (dw, &v) in acc_r.iter().enumerate() {
                    _mm256_storeu_ps(lanes.as_mut_ptr(), v);
                    sums[(tdh * KW + dw) * WR + r] = lanes.iter().sum();
                }
            }
        }
    }
}

/// The AVX-512 versions of `avx2`'s tiles: four zmm vectors of positions per forward tile (so
/// 16 accumulators; over two or four rows where rows are narrow), 16-lane sums in the weight gradient, and masked loads and stores for the
/// rows' tails. Same sums in the same order per lane as their AVX2 counterparts; the weight
/// gradient's lanes are added 16 at a time, so its bits are this level's own.
#[allow(clippy::needless_range_loop)]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{tap, Conv3dGeometry, KW, OB, WR, ZLANES};

    /// (geometry, padded sample, row length, weight group, bias, (zt, zh, zw0), dst, channel
    /// stride, rows, cols), as `avx2::forward_tile` takes them.
    pub type TileArgs<'a> = (
        &'a Conv3dGeometry,
        &'a [f32],
        usize,
        &'a [f32],
        [f32; OB],
        (usize, usize, usize),
        *mut f32,
        usize,
        usize,
        usize,
    );

    /// The first `n` lanes (all for n ≥ 16).
    fn first_lanes(n: usize) -> __mmask16 {
        if n >= ZLANES {
            0xffff
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// `avx2::forward_tile` with NV zmm vectors (cols ≤ NV·16) on each of RW consecutive
    /// output rows zh .. zh + RW (all inside the frame; row rr's outputs at dst + rr·W').
    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn forward_tile<const NV: usize, const RW: usize>(
        (g, xn, row, wk, bias, (zt, zh, zw0), dst, p, rows, cols): TileArgs,
    ) {
        let [it, ih, _] = g.input;
        let [kt, kh, _] = g.kernel;
        let ow = g.output[2];
        let mut acc: [[[__m512; NV]; RW]; OB] = std::array::from_fn(|r| [[_mm512_set1_ps(bias[r]); NV]; RW]);
        for c in 0..g.in_channels {
            for dt in 0..kt {
                let Some(t) = tap(g, 0, zt, dt) else { continue };
                for dh in 0..kh {
                    // Each row's input row for this tap; null on the H padding.
                    let mut src = [std::ptr::null::<f32>(); RW];
                    for (rr, s) in src.iter_mut().enumerate() {
                        if let Some(h) = tap(g, 1, zh + rr, dh) {
                            let at = ((c * it + t) * ih + h) * row + zw0;
                            debug_assert!(at + NV * ZLANES + KW - 1 <= xn.len());
                            *s = xn.as_ptr().add(at);
                        }
                    }
                    let w = wk[((c * kt + dt) * kh + dh) * KW * OB..][..KW * OB].as_ptr();
                    for dw in 0..KW {
                        let wv: [__m512; OB] = std::array::from_fn(|r| _mm512_set1_ps(*w.add(dw * OB + r)));
                        for rr in 0..RW {
                            if src[rr].is_null() {
                                continue;
                            }
                            for v in 0..NV {
                                let xv = _mm512_loadu_ps(src[rr].add(dw + v * ZLANES));
                                for r in 0..OB {
                                    acc[r][rr][v] = _mm512_fmadd_ps(wv[r], xv, acc[r][rr][v]);
                                }
                            }
                        }
                    }
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate().take(rows) {
            for (rr, acc_rr) in acc_r.iter().enumerate() {
                for (v, &a) in acc_rr.iter().enumerate() {
                    let mask = first_lanes(cols.saturating_sub(v * ZLANES));
                    _mm512_mask_storeu_ps(dst.add(r * p + rr * ow + v * ZLANES), mask, a);
                }
            }
        }
    }

    /// `avx2::weight_task` on 16-lane vectors.
    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn weight_task(
        g: &Conv3dGeometry,
        gy_rows: [&[f32]; WR],
        xn: &[f32],
        row: usize,
        ci: usize,
        sums: &mut [f32],
    ) {
        let [ot, oh, ow] = g.output;
        let [it, ih, _] = g.input;
        let [kt, kh, _] = g.kernel;
        let mut acc_mem = vec![[[_mm512_setzero_ps(); KW]; WR]; kt * kh];
        let (full, tail) = (ow / ZLANES * ZLANES, ow % ZLANES);
        let mask = first_lanes(tail);
        for zt in 0..ot {
            for zh in 0..oh {
                let q = (zt * oh + zh) * ow;
                let gq: [*const f32; WR] = std::array::from_fn(|r| gy_rows[r][q..q + ow].as_ptr());
                for dt in 0..kt {
                    let Some(t) = tap(g, 0, zt, dt) else { continue };
                    for dh in 0..kh {
                        let Some(h) = tap(g, 1, zh, dh) else { continue };
                        let src = xn[((ci * it + t) * ih + h) * row..][..ow + KW - 1].as_ptr();
                        let acc = &mut acc_mem[dt * kh + dh];
                        let mut a = *acc;
                        let mut zw = 0;
                        while zw < full {
                            let gv: [__m512; WR] = std::array::from_fn(|r| _mm512_loadu_ps(gq[r].add(zw)));
                            for dw in 0..KW {
                                let xv = _mm512_loadu_ps(src.add(zw + dw));
                                for r in 0..WR {
                                    a[r][dw] = _mm512_fmadd_ps(gv[r], xv, a[r][dw]);
                                }
                            }
                            zw += ZLANES;
                        }
                        if tail > 0 {
                            // Masked loads: lanes past the row read nothing (zero), so they add
                            // exactly zero even where the input beyond holds inf or NaN.
                            let gv: [__m512; WR] = std::array::from_fn(|r| _mm512_maskz_loadu_ps(mask, gq[r].add(zw)));
                            for dw in 0..KW {
                                let xv = _mm512_maskz_loadu_ps(mask, src.add(zw + dw));
                                for r in 0..WR {
                                    a[r][dw] = _mm512_fmadd_ps(gv[r], xv, a[r][dw]);
                                }
                            }
                        }
                        *acc = a;
                    }
                }
            }
        }
        let mut lanes = [0f32; ZLANES];
        for (tdh, acc) in acc_mem.iter().enumerate() {
            for (r, acc_r) in acc.iter().enumerate() {
                for (dw, &v) in acc_r.iter().enumerate() {
                    _mm512_storeu_ps(lanes.as_mut_ptr(), v);
                    sums[(tdh * KW + dw) * WR + r] = lanes.iter().sum();
                }
            }
        }
    }
}

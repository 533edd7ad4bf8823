//! f32 conv3d as a GEMM on packed panels, skipping the taps that fall on the temporal padding.
//!
//! Per sample, y (O × P) = W (O × K) · col (K × P), P = T'·H'·W', K = C·KT·KH·KW, as in
//! `conv3d.rs`, with three differences that matter for speed:
//! - K is ordered time-tap-major, k = (dt·C + c)·KH·KW + dh·KW + dw, so the rows of one
//!   temporal tap dt are contiguous (and the weights' own (c, dt) rows of KH·KW taps stay
//!   runs). Positions are ordered (t, h, w), so the positions whose tap dt lands on the temporal
//!   padding are a prefix or a suffix of every block: each K slab (one dt) only visits the
//!   block's columns where its tap is real. At T' = 2 (C3D's conv5) that is a third
//!   of the work; oneDNN skips it too.
//! - The weights are packed once per call into the micro-kernel's A panels and shared by every
//!   thread; the im2col writes B panels directly, so nothing is copied twice.
//! - `microkernel::tile` (AVX2 + FMA, 6 × 16) does the multiply.
//! - Stride-1 convolutions with output rows of at least 7 (all of C3D's) read their B panels
//!   from a zero-padded copy of the input with vector loads (`padded_panels.rs`); the others
//!   copy im2col runs (`tap_run`), which cost a call per run of one output row.
//!
//! The input gradient of a stride-1 convolution is itself a convolution (of gy with the
//! weights flipped on every axis and in/out channels swapped, padding K − 1 − p), so it runs
//! through the same code; other strides use `conv3d.rs`.
//!
//! Every output element is summed in one fixed order (slabs in K order, k ascending within a
//! slab), whatever the blocking and thread count: runs are reproducible bit for bit.

use std::cell::RefCell;
use std::thread::LocalKey;

use rayon::prelude::*;

use super::conv3d::{positions, runs, tap_run, valid_w};
use super::gemm::SendPtr;
use super::microkernel::{tile, tile_width, LANES, MR, NR};
use super::padded_panels::{self, VectorSource};
use super::workspace::Scratch;
use crate::ops::geometry::Conv3dGeometry;

/// Depth of a K slab: a B panel slab (KC × 16 floats, 16 KB) stays in L1 while the A panels of
/// a row chunk stream past it.
const KC: usize = 256;
/// Output channels per row chunk: the chunk's A slab (128 × KC floats, 128 KB) stays in L2
/// while the block's B panels are visited.
const MC: usize = 128;
/// Widest block of output positions: its B slab (KC × 240 floats, 240 KB) shares L2 with the
/// A chunk.
const NC: usize = 240;

/// Rows k0 .. k1 of K, all of temporal tap `dt`.
#[derive(Clone, Copy, Debug)]
struct Slab {
    k0: usize,
    k1: usize,
    dt: usize,
}

impl Slab {
    fn depth(&self) -> usize {
        self.k1 - self.k0
    }
}

/// Each temporal tap's C·KH·KW rows, split into nearly equal slabs of at most KC.
fn slabs(g: &Conv3dGeometry) -> Vec<Slab> {
    let per_dt = g.in_channels * g.kernel[1] * g.kernel[2];
    let parts = per_dt.div_ceil(KC);
    (0..g.kernel[0])
        .flat_map(|dt| {
            (0..parts).map(move |s| Slab {
                k0: dt * per_dt + s * per_dt / parts,
                k1: dt * per_dt + (s + 1) * per_dt / parts,
                dt,
            })
        })
        .collect()
}

/// The weights as A (M × K, K time-tap-major) packed slab after slab; a slab holds M/MR panels
/// (depth × MR, rows past M zero), so panel `i` of the slab starting at k0 begins at
/// `m_padded·k0 + i·MR·depth`. `row(m)` is A's row m in the weights' own order, (channels, KT,
/// KH, KW).
///
/// Panels are packed in parallel, each from its MR rows of the weights (C3D's conv5: six rows are
/// 330 KB, inside L2), k after k so the writes are contiguous, into `out`, a buffer kept across
/// calls: C3D's conv5 packs 28 MB per call, and fresh memory cost more page faults than the
/// multiply took. Every float of `out` is written, so a buffer of the right size is not cleared.
fn pack_a<'w>(
    m: usize,
    g: &Conv3dGeometry,
    slabs: &[Slab],
    row: impl Fn(usize) -> &'w [f32] + Sync,
    out: &mut Vec<f32>,
) {
    let mp = m.div_ceil(MR) * MR;
    let k = slabs.last().map_or(0, |s| s.k1);
    let (taps, plane) = (g.kernel.iter().product::<usize>(), g.kernel[1] * g.kernel[2]);
    if out.len() != mp * k {
        out.clear();
        out.resize(mp * k, 0.0);
    }
    let dst = SendPtr(out.as_mut_ptr());
    (0..mp / MR).into_par_iter().for_each(|panel| {
        let rows: Vec<&[f32]> = (panel * MR..m.min((panel + 1) * MR)).map(&row).collect();
        for s in slabs {
            let depth = s.depth();
            // Safety: panel `panel` of slab `s` is written by this task alone.
            let out =
                unsafe { std::slice::from_raw_parts_mut(dst.get().add(mp * s.k0 + panel * MR * depth), MR * depth) };
            // k = (dt·C + ch)·plane + hw reads w[ch·taps + dt·plane + hw]: runs of one plane.
            let mut k = s.k0;
            while k < s.k1 {
                let (ch, hw) = ((k / plane) % g.in_channels, k % plane);
                let run = (plane - hw).min(s.k1 - k);
                let src = ch * taps + s.dt * plane + hw;
                for (i, col) in out[(k - s.k0) * MR..][..run * MR].chunks_exact_mut(MR).enumerate() {
                    for (r, d) in col.iter_mut().enumerate() {
                        *d = rows.get(r).map_or(0.0, |w| w[src + i]);
                    }
                }
                k += run;
            }
        }
    });
}

thread_local! {
    /// The packed weights of the last call on this thread, reused as the next call's buffer.
    static PACKED_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// The padded input of the last call on this thread, likewise.
    static PADDED_X: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer `kept` (a fresh one if it is in use: a convolution called
/// from inside another's parallel tasks).
fn with_kept<R>(kept: &'static LocalKey<RefCell<Vec<f32>>>, f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
    kept.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut Vec::new()),
    })
}

/// Block columns col .. col + len: output positions (zt, zh, zw0 .. zw0 + len), in one B panel.
#[derive(Clone, Copy)]
struct Run {
    col: usize,
    zt: usize,
    zh: usize,
    zw0: usize,
    len: usize,
}

/// The block's output rows cut at B panel boundaries, in column order.
fn panel_runs(g: &Conv3dGeometry, p0: usize, width: usize) -> Vec<Run> {
    let mut out = Vec::new();
    for (j, zt, zh, zw0, len) in runs(g, p0, width) {
        let mut done = 0;
        while done < len {
            let col = j + done;
            let take = (len - done).min(NR - col % NR);
            out.push(Run {
                col,
                zt,
                zh,
                zw0: zw0 + done,
                len: take,
            });
            done += take;
        }
    }
    out
}

/// Columns and padded width of B panel `j` of a block of `cols` columns.
fn panel_shape(cols: usize, j: usize) -> (usize, usize) {
    let valid = (cols - j * NR).min(NR);
    (valid, tile_width(valid))
}

/// Where the B panels of a call come from.
enum Im2col<'a> {
    /// Runs of output rows copied from the input x (N, C, T, H, W) by `tap_run`.
    Runs(&'a [f32]),
    /// Vector loads from the zero-padded input, with each slab's tap offsets.
    Padded(&'a [f32], Vec<Vec<usize>>),
}

/// One block's B panel addressing, worked out once per block.
enum BlockPlan {
    Runs(Vec<Run>),
    Vectors(Vec<VectorSource>),
}

impl Im2col<'_> {
    fn plan(&self, g: &Conv3dGeometry, p0: usize, cols: usize) -> BlockPlan {
        match self {
            Im2col::Runs(_) => BlockPlan::Runs(panel_runs(g, p0, cols)),
            Im2col::Padded(..) => BlockPlan::Vectors(padded_panels::block_sources(g, p0, cols)),
        }
    }

    /// Writes B panels `panels` of slab `s` (of `slabs(g)`) for sample n's block planned as
    /// `plan`, of `cols` columns.
    #[allow(clippy::too_many_arguments)]
    fn pack(
        &self,
        g: &Conv3dGeometry,
        plan: &BlockPlan,
        n: usize,
        (s, slab): (usize, Slab),
        cols: usize,
        panels: (usize, usize),
        b: &mut [f32],
    ) {
        match (self, plan) {
            (Im2col::Runs(x), BlockPlan::Runs(runs)) => {
                let x_len = g.in_channels * g.input.iter().product::<usize>();
                pack_b(g, &x[n * x_len..(n + 1) * x_len], slab, runs, cols, panels, b)
            }
            (Im2col::Padded(xp, taps), BlockPlan::Vectors(sources)) => {
                let sample = &xp[n * padded_panels::sample_len(g)..];
                debug_assert!(panels.1 * NR * slab.depth() <= b.len());
                // Safety: `xp` is `pad_input`'s copy (the samples and their slack) and `b` holds
                // the block's panels.
                unsafe { padded_panels::fill(sample.as_ptr(), &taps[s], sources, cols, panels, b.as_mut_ptr()) }
            }
            _ => unreachable!("a block is planned by the im2col that packs it"),
        }
    }
}

/// Runs `f` with the B panel source for convolving x (N, C, T, H, W) by `g`.
fn with_im2col<R>(g: &Conv3dGeometry, x: &[f32], f: impl FnOnce(&Im2col) -> R) -> R {
    if !padded_panels::applies(g) {
        return f(&Im2col::Runs(x));
    }
    with_kept(&PADDED_X, |xp| {
        padded_panels::pad_input(g, x, xp);
        let taps = slabs(g)
            .iter()
            .map(|s| padded_panels::tap_offsets(g, s.k0, s.k1))
            .collect();
        f(&Im2col::Padded(xp, taps))
    })
}

/// Writes B panels `panels` of `slab` for one block: panel j (at j·NR·depth in `b`) holds, for
/// each k of the slab, the tap k of the panel's output positions (zero on the padding and on
/// the panel's columns past the block). `x` is one sample (C, T, H, W).
fn pack_b(g: &Conv3dGeometry, x: &[f32], slab: Slab, runs: &[Run], cols: usize, panels: (usize, usize), b: &mut [f32]) {
    let [it, ih, iw] = g.input;
    let [_, kh, kw] = g.kernel;
    let (c, depth) = (g.in_channels, slab.depth());
    let first = runs.partition_point(|r| r.col / NR < panels.0);
    let last = runs.partition_point(|r| r.col / NR < panels.1);
    let runs = &runs[first..last];
    for j in panels.0..panels.1 {
        let (valid, width) = panel_shape(cols, j);
        if valid < width {
            for row in b[j * NR * depth..][..width * depth].chunks_mut(width) {
                row[valid..].fill(0.0);
            }
        }
    }
    for kk in 0..depth {
        let k = slab.k0 + kk;
        let (ch, hw) = ((k / (kh * kw)) % c, k % (kh * kw));
        let (dh, dw) = (hw / kw, hw % kw);
        let xc = &x[ch * it * ih * iw..][..it * ih * iw];
        for r in runs {
            let (j, q) = (r.col / NR, r.col % NR);
            let width = panel_shape(cols, j).1;
            let dst = &mut b[j * NR * depth + kk * width + q..][..r.len];
            tap_run(g, xc, [slab.dt, dh, dw], (r.zt, r.zh, r.zw0), dst);
        }
    }
}

/// The block columns (relative to p0) whose temporal tap `dt` is inside the input.
pub(super) fn real_columns(g: &Conv3dGeometry, dt: usize, p0: usize, cols: usize) -> (usize, usize) {
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

/// y (N, M, T', H', W') = the convolution of the input `im2col` reads, whose weights are `a`,
/// packed by `pack_a` over `slabs(g)`, plus `bias` (M).
fn convolve(g: &Conv3dGeometry, im2col: &Im2col, a: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (p, m) = (positions(g), g.out_channels);
    let mp = m.div_ceil(MR) * MR;
    let slabs = slabs(g);
    let max_depth = slabs.iter().map(Slab::depth).max().unwrap_or(0);
    let width = p.div_ceil(p.div_ceil(NC)).next_multiple_of(LANES).min(p);
    let blocks: Vec<(usize, usize, usize)> = (0..g.batch)
        .flat_map(|n| (0..p).step_by(width).map(move |p0| (n, p0, width.min(p - p0))))
        .collect();
    // With fewer blocks than threads (deep layers at batch 1), split the output channels too.
    let threads = rayon::current_num_threads().max(1);
    let row_panels = mp / MR;
    let slices = if blocks.len() >= threads {
        1
    } else {
        threads.div_ceil(blocks.len()).min(row_panels)
    };
    let per_slice = row_panels.div_ceil(slices);
    let tasks: Vec<_> = blocks
        .iter()
        .flat_map(|&b| {
            (0..row_panels)
                .step_by(per_slice)
                .map(move |i0| (b, i0, (i0 + per_slice).min(row_panels)))
        })
        .collect();
    let mut y = vec![0f32; g.batch * m * p];
    let out = SendPtr(y.as_mut_ptr());
    tasks.into_par_iter().for_each(|((n, p0, cols), i0, i1)| {
        // Safety: this task alone writes rows i0·MR .. min(i1·MR, M), columns p0 .. p0 + cols
        // of sample n's (M × P) output.
        let c_block = unsafe { out.get().add(n * m * p + p0) };
        if let Some(bias) = bias {
            for row in i0 * MR..(i1 * MR).min(m) {
                let dst = unsafe { std::slice::from_raw_parts_mut(c_block.add(row * p), cols) };
                dst.fill(bias[row]);
            }
        }
        let plan = im2col.plan(g, p0, cols);
        f32::with_scratch(max_depth * cols.div_ceil(NR) * NR, |b| {
            for (s, &slab) in slabs.iter().enumerate() {
                let (lo, hi) = real_columns(g, slab.dt, p0, cols);
                if lo == hi {
                    continue;
                }
                let panels = (lo / NR, hi.div_ceil(NR));
                im2col.pack(g, &plan, n, (s, slab), cols, panels, b);
                let depth = slab.depth();
                for c0 in (i0..i1).step_by(MC / MR) {
                    for j in panels.0..panels.1 {
                        let (valid, width) = panel_shape(cols, j);
                        let b_panel = b[j * NR * depth..].as_ptr();
                        for i in c0..(c0 + MC / MR).min(i1) {
                            let a_panel = a[mp * slab.k0 + i * MR * depth..].as_ptr();
                            let rows = MR.min(m - i * MR);
                            // (rows × valid) += A panel (rows × depth) · B panel (depth × valid).
                            // Safety: the panels hold depth·MR and depth·width floats; the C tile
                            // is inside this task's rows and columns.
                            unsafe {
                                tile(
                                    width,
                                    depth,
                                    a_panel,
                                    b_panel,
                                    c_block.add(i * MR * p + j * NR),
                                    p,
                                    rows,
                                    valid,
                                )
                            };
                        }
                    }
                }
            }
        })
    });
    y
}

/// Whether `g` is a convolution this path speeds up. With shallow slabs (few input channels) the
/// tiles spend their time loading and storing C, and with few positions in the whole batch the
/// weight packing (M·K floats) costs more than it saves: im2col + matrixmultiply is faster there
/// (the tiny models' first layers, C3D's conv5 at batch 1 and 2: below 256 positions; from
/// batch 4 on, conv5 runs 1.5× faster here).
pub fn pays_off(g: &Conv3dGeometry) -> bool {
    g.in_channels * g.kernel[1] * g.kernel[2] >= 128 && g.batch * positions(g) >= 256
}

/// The geometry of the input gradient of a stride-1 `g` as a convolution of gy (see
/// `x_backward`); None for other strides (or padding ≥ kernel).
pub fn transposed(g: &Conv3dGeometry) -> Option<Conv3dGeometry> {
    if g.stride != [1; 3] || (0..3).any(|a| g.padding[a] >= g.kernel[a]) {
        return None;
    }
    Some(Conv3dGeometry {
        batch: g.batch,
        in_channels: g.out_channels,
        out_channels: g.in_channels,
        input: g.output,
        kernel: g.kernel,
        stride: [1; 3],
        padding: [0, 1, 2].map(|a| g.kernel[a] - 1 - g.padding[a]),
        output: g.input,
    })
}

/// The weights of `transposed(g)`: w (O, C, KT, KH, KW) flipped on every axis, as (C, O, KT, KH,
/// KW); w[oi, ci, tap] goes to [ci, oi, mirrored tap]. One small transpose (C3D's conv5:
/// 512 × 27 × 512 floats).
pub fn flipped_weights(w: &[f32], g: &Conv3dGeometry) -> Vec<f32> {
    let (c, o, taps) = (g.in_channels, g.out_channels, g.kernel.iter().product::<usize>());
    let mut flipped = vec![0f32; w.len()];
    // One task per input channel: it gathers that channel's row of every output channel.
    flipped.par_chunks_mut(o * taps).enumerate().for_each(|(ci, dst)| {
        for (oi, row) in dst.chunks_mut(taps).enumerate() {
            let src = &w[(oi * c + ci) * taps..][..taps];
            for (d, &v) in row.iter_mut().zip(src.iter().rev()) {
                *d = v;
            }
        }
    });
    flipped
}

/// x: (N, C, T, H, W), w: (O, C, KT, KH, KW), bias: (O) -> (N, O, T', H', W').
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Conv3dGeometry) -> Vec<f32> {
    let (c, taps) = (g.in_channels, g.kernel.iter().product::<usize>());
    with_kept(&PACKED_A, |a| {
        pack_a(
            g.out_channels,
            g,
            &slabs(g),
            |o| &w[o * c * taps..(o + 1) * c * taps],
            a,
        );
        with_im2col(g, x, |im2col| convolve(g, im2col, a, bias))
    })
}

/// The input gradient of a stride-1 convolution as a convolution: gy (N, O, T', H', W') with
/// the weights w (O, C, KT, KH, KW) flipped on every axis, as (C, O, KT, KH, KW), and padding
/// K − 1 − p -> gx (N, C, T, H, W). None for other strides (or padding ≥ kernel).
pub fn x_backward(gy: &[f32], w: &[f32], g: &Conv3dGeometry) -> Option<Vec<f32>> {
    let transposed = transposed(g)?;
    let (c, o, taps) = (g.in_channels, g.out_channels, g.kernel.iter().product::<usize>());
    let flipped = flipped_weights(w, g);
    Some(with_kept(&PACKED_A, |a| {
        pack_a(
            c,
            &transposed,
            &slabs(&transposed),
            |ci| &flipped[ci * o * taps..(ci + 1) * o * taps],
            a,
        );
        with_im2col(&transposed, gy, |im2col| convolve(&transposed, im2col, a, None))
    }))
}

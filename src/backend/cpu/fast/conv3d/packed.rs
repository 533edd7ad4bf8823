//! f32 conv3d as a GEMM on packed panels, skipping the taps that fall on the temporal padding.
//!
//! Per sample, y (O × P) = W (O × K) · col (K × P), P = T'·H'·W', K = C·KT·KH·KW, as in
//! `conv3d.rs`, with these differences that matter for speed:
//! - K is ordered time-tap-major, k = (dt·C + c)·KH·KW + dh·KW + dw, so the rows of one
//!   temporal tap dt are contiguous (and the weights' own (c, dt) rows of KH·KW taps stay
//!   runs). The blocks of output positions (B columns) are made of whole output frames that
//!   share their real temporal taps, from one sample or several (`blocks`), so a K slab (one
//!   dt) on the padding is skipped for a whole block. At T' = 2 (C3D's conv5) that is a third
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

use super::im2col::{positions, runs, tap, tap_run};
use super::padded_panels::{self, VectorSource};
use crate::backend::cpu::fast::microkernel::{multiply, tile_width, Panels, LANES, MR, NR};
use crate::backend::cpu::fast::send_ptr::SendPtr;
use crate::backend::cpu::fast::workspace::Scratch;
use crate::tensor::geometry::Conv3dGeometry;

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

/// Block columns col .. col + len: output positions (zt, zh, zw0 .. zw0 + len) of sample n, in
/// one B panel.
#[derive(Clone, Copy)]
struct Run {
    col: usize,
    n: usize,
    zt: usize,
    zh: usize,
    zw0: usize,
    len: usize,
}

/// The block's output rows cut at B panel boundaries, in column order.
fn panel_runs(g: &Conv3dGeometry, block: &Block) -> Vec<Run> {
    let mut out = Vec::new();
    let mut start = 0;
    for seg in &block.segments {
        for (j, zt, zh, zw0, len) in runs(g, seg.p0, seg.len) {
            let mut done = 0;
            while done < len {
                let col = start + j + done;
                let take = (len - done).min(NR - col % NR);
                out.push(Run {
                    col,
                    n: seg.n,
                    zt,
                    zh,
                    zw0: zw0 + done,
                    len: take,
                });
                done += take;
            }
        }
        start += seg.len;
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
    fn plan(&self, g: &Conv3dGeometry, block: &Block) -> BlockPlan {
        match self {
            Im2col::Runs(_) => BlockPlan::Runs(panel_runs(g, block)),
            Im2col::Padded(..) => {
                let columns: Vec<(usize, usize)> = block
                    .segments
                    .iter()
                    .flat_map(|seg| (seg.p0..seg.p0 + seg.len).map(move |p| (seg.n, p)))
                    .collect();
                let base = |q: usize| padded_panels::position_base(g, columns[q].0, columns[q].1);
                BlockPlan::Vectors(padded_panels::block_sources(block.cols, base))
            }
        }
    }

    /// Writes B panels `panels` of slab `s` (of `slabs(g)`) for a block planned as `plan`, of
    /// `cols` columns.
    fn pack(
        &self,
        g: &Conv3dGeometry,
        plan: &BlockPlan,
        (s, slab): (usize, Slab),
        cols: usize,
        panels: (usize, usize),
        b: &mut [f32],
    ) {
        match (self, plan) {
            (Im2col::Runs(x), BlockPlan::Runs(runs)) => pack_b(g, x, slab, runs, cols, panels, b),
            (Im2col::Padded(xp, taps), BlockPlan::Vectors(sources)) => {
                debug_assert!(panels.1 * NR * slab.depth() <= b.len());
                // Safety: `xp` is `pad_input`'s copy (the samples and their slack) and `b` holds
                // the block's panels.
                unsafe { padded_panels::fill(xp.as_ptr(), &taps[s], sources, cols, panels, b.as_mut_ptr()) }
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
/// the panel's columns past the block). `x` is the input (N, C, T, H, W).
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
    let frame = it * ih * iw;
    for kk in 0..depth {
        let k = slab.k0 + kk;
        let (ch, hw) = ((k / (kh * kw)) % c, k % (kh * kw));
        let (dh, dw) = (hw / kw, hw % kw);
        for r in runs {
            let xc = &x[(r.n * c + ch) * frame..][..frame];
            let (j, q) = (r.col / NR, r.col % NR);
            let width = panel_shape(cols, j).1;
            let dst = &mut b[j * NR * depth + kk * width + q..][..r.len];
            tap_run(g, xc, [slab.dt, dh, dw], (r.zt, r.zh, r.zw0), dst);
        }
    }
}

/// Output positions p0 .. p0 + len of sample n.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Segment {
    n: usize,
    p0: usize,
    len: usize,
}

/// The output positions multiplied as one block of B columns: segments whose output frames all
/// have the temporal taps `taps.0 .. taps.1` inside the input, `cols` columns in all.
#[derive(Debug, PartialEq)]
struct Block {
    segments: Vec<Segment>,
    cols: usize,
    taps: (usize, usize),
}

/// The output frames cut into runs z0 .. z1 whose temporal taps inside the input are the same,
/// with those taps: a frame's real taps are contiguous, and so are the frames sharing them.
fn frame_runs(g: &Conv3dGeometry) -> Vec<(usize, usize, (usize, usize))> {
    let real = |zt: usize| {
        let inside: Vec<usize> = (0..g.kernel[0]).filter(|&dt| tap(g, 0, zt, dt).is_some()).collect();
        inside.first().map_or((0, 0), |&lo| (lo, inside[inside.len() - 1] + 1))
    };
    let mut out: Vec<(usize, usize, (usize, usize))> = Vec::new();
    for zt in 0..g.output[0] {
        let taps = real(zt);
        match out.last_mut() {
            Some((_, z1, last)) if *last == taps => *z1 = zt + 1,
            _ => out.push((zt, zt + 1, taps)),
        }
    }
    out
}

/// The blocks of `g`'s output: each run of frames (`frame_runs`), over all samples in order,
/// cut into nearly equal blocks of at most NC columns. Every block's columns share their real
/// temporal taps, so a K slab is skipped or computed for a whole block, and small frames of
/// several samples fill one block (C3D's conv5 at batch 4: 4 × 49 columns, not 49 columns
/// and 15 of a panel computed on the padding).
fn blocks(g: &Conv3dGeometry) -> Vec<Block> {
    let plane = g.output[1] * g.output[2];
    let mut out = Vec::new();
    for (z0, z1, taps) in frame_runs(g) {
        let len = (z1 - z0) * plane;
        let total = g.batch * len;
        let width = total.div_ceil(total.div_ceil(NC)).next_multiple_of(LANES).min(total);
        let empty = || Block {
            segments: Vec::new(),
            cols: 0,
            taps,
        };
        let mut block = empty();
        for n in 0..g.batch {
            let mut done = 0;
            while done < len {
                let take = (width - block.cols).min(len - done);
                block.segments.push(Segment {
                    n,
                    p0: z0 * plane + done,
                    len: take,
                });
                block.cols += take;
                done += take;
                if block.cols == width {
                    out.push(std::mem::replace(&mut block, empty()));
                }
            }
        }
        if block.cols > 0 {
            out.push(block);
        }
    }
    out
}

/// y (N, M, T', H', W') = the convolution of the input `im2col` reads, whose weights are `a`,
/// packed by `pack_a` over `slabs(g)`, plus `bias` (M).
///
/// A block of one segment accumulates straight into y; one that joins samples accumulates into
/// scratch rows of its own columns, copied to y's segments at the end.
fn convolve(g: &Conv3dGeometry, im2col: &Im2col, a: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (p, m) = (positions(g), g.out_channels);
    let mp = m.div_ceil(MR) * MR;
    let slabs = slabs(g);
    let max_depth = slabs.iter().map(Slab::depth).max().unwrap_or(0);
    let blocks = blocks(g);
    // With fewer blocks than threads (deep layers at batch 1), split the output channels too.
    let threads = rayon::current_num_threads().max(1);
    let row_panels = mp / MR;
    let slices = if blocks.len() >= threads {
        1
    } else {
        threads.div_ceil(blocks.len().max(1)).min(row_panels)
    };
    let per_slice = row_panels.div_ceil(slices);
    let tasks: Vec<_> = (0..blocks.len())
        .flat_map(|b| {
            (0..row_panels)
                .step_by(per_slice)
                .map(move |i0| (b, i0, (i0 + per_slice).min(row_panels)))
        })
        .collect();
    let mut y = vec![0f32; g.batch * m * p];
    let out = SendPtr(y.as_mut_ptr());
    tasks.into_par_iter().for_each(|(b, i0, i1)| {
        let block = &blocks[b];
        let cols = block.cols;
        let (r0, r1) = (i0 * MR, (i1 * MR).min(m));
        let panels = (0, cols.div_ceil(NR));
        let b_len = max_depth * panels.1 * NR;
        let direct = block.segments.len() == 1;
        let c_len = if direct { 0 } else { (r1 - r0) * cols };
        let plan = im2col.plan(g, block);
        f32::with_scratch(b_len + c_len, |scratch| {
            let (b_panels, c_rows) = scratch.split_at_mut(b_len);
            // C: rows r0 .. r1 of this block's columns, row stride ldc.
            let (c, ldc) = if direct {
                let seg = block.segments[0];
                // Safety: this task alone writes rows r0 .. r1, columns p0 .. p0 + cols of
                // sample n's (M × P) output.
                (unsafe { out.get().add((seg.n * m + r0) * p + seg.p0) }, p)
            } else {
                (c_rows.as_mut_ptr(), cols)
            };
            if bias.is_some() || !direct {
                for row in r0..r1 {
                    let value = bias.map_or(0.0, |bias| bias[row]);
                    // Safety: row `row` of C, inside this task's rows and columns.
                    unsafe { std::slice::from_raw_parts_mut(c.add((row - r0) * ldc), cols) }.fill(value);
                }
            }
            for (s, &slab) in slabs.iter().enumerate() {
                if !(block.taps.0..block.taps.1).contains(&slab.dt) {
                    continue;
                }
                im2col.pack(g, &plan, (s, slab), cols, panels, b_panels);
                let depth = slab.depth();
                for c0 in (i0..i1).step_by(MC / MR) {
                    let c1 = (c0 + MC / MR).min(i1);
                    let a_panels = Panels {
                        ptr: a[mp * slab.k0 + c0 * MR * depth..].as_ptr(),
                        stride: MR * depth,
                    };
                    let b_run = Panels {
                        ptr: b_panels.as_ptr(),
                        stride: NR * depth,
                    };
                    // (rows × cols) += A (rows × depth) · B (depth × cols), rows = this chunk's
                    // output channels.
                    // Safety: the A chunk's panels and the block's B panels hold depth·MR and
                    // depth·width floats each; the C rows are this task's rows and columns.
                    unsafe {
                        multiply(
                            depth,
                            0,
                            a_panels,
                            (c1 * MR).min(m) - c0 * MR,
                            b_run,
                            cols,
                            c.add((c0 - i0) * MR * ldc),
                            ldc,
                        )
                    };
                }
            }
            if !direct {
                let mut col = 0;
                for seg in &block.segments {
                    for row in r0..r1 {
                        // Safety: this task alone writes rows r0 .. r1 of the segment's columns.
                        let dst = unsafe {
                            std::slice::from_raw_parts_mut(out.get().add((seg.n * m + row) * p + seg.p0), seg.len)
                        };
                        dst.copy_from_slice(&c_rows[(row - r0) * cols + col..][..seg.len]);
                    }
                    col += seg.len;
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
/// batch 4 on, conv5 runs 1.8× faster here).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::geometry::Conv3dOptions;
    use crate::tensor::Shape;

    fn geometry(input: [usize; 5]) -> Conv3dGeometry {
        let w = [8, input[1], 3, 3, 3];
        let opts = Conv3dOptions {
            stride: [1; 3],
            padding: [1; 3],
        };
        Conv3dGeometry::new(&Shape::new(&input).unwrap(), &Shape::new(&w).unwrap(), &opts).unwrap()
    }

    /// C3D's conv5 at batch 4 (frames of 7 × 7): frame 0 has taps 1 and 2 inside, frame 1 taps 0
    /// and 1; each run of frames makes one block of the four samples' 49 positions.
    #[test]
    fn small_frames_of_several_samples_share_a_block() {
        let g = geometry([4, 2, 2, 7, 7]);
        assert_eq!(frame_runs(&g), vec![(0, 1, (1, 3)), (1, 2, (0, 2))]);
        let segments = |p0| (0..4).map(|n| Segment { n, p0, len: 49 }).collect();
        let want = vec![
            Block {
                segments: segments(0),
                cols: 196,
                taps: (1, 3),
            },
            Block {
                segments: segments(49),
                cols: 196,
                taps: (0, 2),
            },
        ];
        assert_eq!(blocks(&g), want);
    }

    /// Eight frames of 10 × 10 at batch 2: the inner frames 1 .. 7 (600 positions a sample, 1200
    /// in all) make 5 blocks of 240, the third joining sample 0's last 120 positions to sample 1's
    /// first 120; the first and last frames, 100 a sample, make one block of 200 each.
    #[test]
    fn long_runs_are_cut_into_nearly_equal_blocks() {
        let g = geometry([2, 2, 8, 10, 10]);
        assert_eq!(frame_runs(&g), vec![(0, 1, (1, 3)), (1, 7, (0, 3)), (7, 8, (0, 2))]);
        let got = blocks(&g);
        let widths: Vec<usize> = got.iter().map(|b| b.cols).collect();
        assert_eq!(widths, [200, 240, 240, 240, 240, 240, 200]);
        assert_eq!(
            got[3].segments,
            [
                Segment {
                    n: 0,
                    p0: 580,
                    len: 120
                },
                Segment {
                    n: 1,
                    p0: 100,
                    len: 120
                }
            ]
        );
        // Every position of every sample is in exactly one block.
        let mut seen = vec![0; 2 * 800];
        for seg in got.iter().flat_map(|b| &b.segments) {
            (seg.p0..seg.p0 + seg.len).for_each(|p| seen[seg.n * 800 + p] += 1);
        }
        assert!(seen.iter().all(|&k| k == 1));
    }
}

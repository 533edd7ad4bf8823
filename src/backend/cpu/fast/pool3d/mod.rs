//! Max pooling without padding and with stride = kernel (every C3D and VGG pool but C3D's
//! pool5): windows tile the input, so each output is a max over a block read row by row, with
//! no per-tap bounds checks. Candidates are visited in (t, h, w) order with a strict `>` (NaN
//! wins), exactly as the reference, so values and argmax agree bit for bit. Windows of width 2
//! (all of C3D's and VGG's) have AVX2 and AVX-512 row kernels in `avx2` and `avx512`, used at
//! those ISA levels (`isa::active`); the portable loops here are the fallback and what the
//! other widths run.
//!
//! The tiling paths write every output element exactly once and never read one back, so their
//! outputs are `MaybeUninit`: the backend hands them fresh, unzeroed memory (zeroing 10–50 MB
//! per call would be one more full pass over it).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::backend::cpu::fast::CpuFast;
use crate::backend::cpu::reference;
use crate::backend::cpu::reference::CpuReference;
use crate::backend::PoolOps;
use crate::error::Result;
use crate::tensor::geometry::Pool3dGeometry;
use crate::tensor::{DType, Tensor};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use super::isa::{self, CpuIsa};

/// Which row kernels the tiling paths run: the portable loops, or the AVX2 or AVX-512 ones
/// (width 2 only; other widths fall back to the portable loops). All give identical bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    Portable,
    Avx2,
    Avx512,
}

impl Kernels {
    /// Every set, lowest first.
    pub const ALL: [Kernels; 3] = [Kernels::Portable, Kernels::Avx2, Kernels::Avx512];

    /// The kernels of the active ISA level (`isa::active`).
    pub fn detect() -> Kernels {
        match isa::active() {
            CpuIsa::Portable => Kernels::Portable,
            CpuIsa::Avx2 => Kernels::Avx2,
            CpuIsa::Avx512 => Kernels::Avx512,
        }
    }

    /// The ISA level the kernels need.
    pub fn level(self) -> CpuIsa {
        match self {
            Kernels::Portable => CpuIsa::Portable,
            Kernels::Avx2 => CpuIsa::Avx2,
            Kernels::Avx512 => CpuIsa::Avx512,
        }
    }

    /// Whether this CPU runs them (the portable loops run everywhere).
    pub fn available(self) -> bool {
        self.level().supported()
    }
}

/// The SIMD row kernels for windows of width `kw`, if `kernels` has them (width 2 only).
fn simd_w2(kernels: Kernels, kw: usize) -> Option<Kernels> {
    (cfg!(target_arch = "x86_64") && kernels != Kernels::Portable && kw == 2).then_some(kernels)
}

/// Whether `max_forward` applies: no padding, stride = kernel, and every window inside the
/// input (ceil mode can add a partial last window).
pub fn tiles(g: &Pool3dGeometry) -> bool {
    g.padding == [0; 3] && g.stride == g.kernel && (0..3).all(|a| g.output[a] * g.kernel[a] <= g.input[a])
}

/// All ones where candidate `v` replaces the current best `b` (larger, or the first NaN), else
/// zero: a mask, so the selects below compile to blends rather than unpredictable branches.
#[inline(always)]
fn beats(v: f32, b: f32) -> u32 {
    0u32.wrapping_sub((v > b) as u32 | (v.is_nan() & !b.is_nan()) as u32)
}

#[inline(always)]
fn select_f32(mask: u32, yes: f32, no: f32) -> f32 {
    f32::from_bits(yes.to_bits() & mask | no.to_bits() & !mask)
}

/// Merges one input row into the window maxima of an output row: `row` holds ow windows of KW
/// taps (KW = 0: the runtime `kw`), `r` is the row's offset in its plane. `first`: the row is
/// the windows' first, so it replaces rather than competes.
#[inline(always)]
fn merge_row<const KW: usize>(row: &[f32], kw: usize, r: usize, first: bool, best: &mut [f32], arg: &mut [u32]) {
    let kw = if KW == 0 { kw } else { KW };
    for (zw, ((window, b), a)) in row
        .chunks_exact(kw)
        .zip(best.iter_mut())
        .zip(arg.iter_mut())
        .enumerate()
    {
        let (mut v, mut at) = (window[0], 0u32);
        for (dw, &c) in window.iter().enumerate().skip(1) {
            let take = beats(c, v);
            v = select_f32(take, c, v);
            at = dw as u32 & take | at & !take;
        }
        let take = beats(v, *b) | 0u32.wrapping_sub(first as u32);
        *b = select_f32(take, v, *b);
        *a = (((r + zw * kw) as u32 + at) & take) | (*a & !take);
    }
}

/// Writes `v` into `out` (equal lengths).
fn write_all<T: Copy>(out: &mut [MaybeUninit<T>], v: &[T]) {
    assert_eq!(out.len(), v.len());
    for (o, &e) in out.iter_mut().zip(v) {
        o.write(e);
    }
}

/// x: planes of (T, H, W) -> y, argmax: planes of (T', H', W'), every element written;
/// `g.planes` planes, with the fastest kernels this CPU has.
pub fn max_forward(x: &[f32], y: &mut [MaybeUninit<f32>], arg: &mut [MaybeUninit<u32>], g: &Pool3dGeometry) {
    max_forward_with(Kernels::detect(), x, y, arg, g)
}

/// `max_forward` with the given kernels, which this CPU must have (`Kernels::available`).
pub fn max_forward_with(
    kernels: Kernels,
    x: &[f32],
    y: &mut [MaybeUninit<f32>],
    arg: &mut [MaybeUninit<u32>],
    g: &Pool3dGeometry,
) {
    assert!(kernels.available(), "{kernels:?} kernels need a CPU that has them");
    let [it, ih, iw] = g.input;
    let [ot, oh, ow] = g.output;
    let [kt, kh, _] = g.kernel;
    let (in_plane, out_plane) = (it * ih * iw, ot * oh * ow);
    for p in 0..g.planes {
        let xp = &x[p * in_plane..(p + 1) * in_plane];
        for zt in 0..ot {
            for zh in 0..oh {
                let o = p * out_plane + (zt * oh + zh) * ow;
                let first_row = (zt * kt * ih + zh * kh) * iw;
                output_row(kernels, xp, first_row, g, &mut y[o..o + ow], &mut arg[o..o + ow]);
            }
        }
    }
}

/// One output row of windows (`best`, `arg`: ow each) over the plane `xp`, whose window rows
/// start at `first_row` (the row of dt = dh = 0). Portable: each window row's kw taps are
/// reduced first, then rows are merged in (t, h) order — the earliest maximum wins either way —
/// with selects instead of branches (on real data the comparisons are coin flips), and the
/// usual widths 1 and 2 compiled as constants. The merges run on stack buffers of up to
/// `CHUNK` windows, copied out once complete.
fn output_row(
    kernels: Kernels,
    xp: &[f32],
    first_row: usize,
    g: &Pool3dGeometry,
    best: &mut [MaybeUninit<f32>],
    arg: &mut [MaybeUninit<u32>],
) {
    let [_, ih, iw] = g.input;
    let [kt, kh, kw] = g.kernel;
    if let Some(simd) = simd_w2(kernels, kw) {
        #[cfg(target_arch = "x86_64")]
        // Safety: `max_forward_with` asserted that this CPU has these kernels' level.
        unsafe {
            if simd == Kernels::Avx512 {
                avx512::max_row_w2(xp, first_row, [kt, kh], [ih * iw, iw], best, arg)
            } else {
                avx2::max_row_w2(xp, first_row, [kt, kh], [ih * iw, iw], best, arg)
            }
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = simd;
        return;
    }
    const CHUNK: usize = 64;
    let (mut b, mut a) = ([0f32; CHUNK], [0u32; CHUNK]);
    let ow = best.len();
    for z0 in (0..ow).step_by(CHUNK) {
        let n = CHUNK.min(ow - z0);
        let (b, a) = (&mut b[..n], &mut a[..n]);
        for dt in 0..kt {
            for dh in 0..kh {
                let r = first_row + dt * ih * iw + dh * iw + z0 * kw;
                let row = &xp[r..r + n * kw];
                let first = dt == 0 && dh == 0;
                match kw {
                    1 => merge_row::<1>(row, kw, r, first, b, a),
                    2 => merge_row::<2>(row, kw, r, first, b, a),
                    _ => merge_row::<0>(row, kw, r, first, b, a),
                }
            }
        }
        write_all(&mut best[z0..z0 + n], b);
        write_all(&mut arg[z0..z0 + n], a);
    }
}

/// One gx row of tiling windows: the window's gradient where its argmax is, zero elsewhere.
#[inline(always)]
fn spread_row<const KW: usize>(out: &mut [MaybeUninit<f32>], kw: usize, r: usize, gy: &[f32], arg: &[u32]) {
    let kw = if KW == 0 { kw } else { KW };
    for (zw, (window, (&d, &a))) in out.chunks_exact_mut(kw).zip(gy.iter().zip(arg)).enumerate() {
        let hit = (a as usize).wrapping_sub(r + zw * kw);
        for (dw, v) in window.iter_mut().enumerate() {
            v.write(if hit == dw { d } else { 0.0 });
        }
    }
}

/// The backward of `max_forward` for tiling windows: every input element lies in at most one
/// window, so gx is written once, output row by output row — each window row gets the window's
/// gradient where the argmax is and zero elsewhere — then the rows and columns no window covers
/// get zeros; no fill first and no scatter. Uses the fastest kernels this CPU has.
pub fn max_backward_tiles(gy: &[f32], arg: &[u32], gx: &mut [MaybeUninit<f32>], g: &Pool3dGeometry) {
    max_backward_tiles_with(Kernels::detect(), gy, arg, gx, g)
}

/// `max_backward_tiles` with the given kernels, which this CPU must have.
pub fn max_backward_tiles_with(
    kernels: Kernels,
    gy: &[f32],
    arg: &[u32],
    gx: &mut [MaybeUninit<f32>],
    g: &Pool3dGeometry,
) {
    assert!(kernels.available(), "{kernels:?} kernels need a CPU that has them");
    let [it, ih, iw] = g.input;
    let [ot, oh, ow] = g.output;
    let [kt, kh, _] = g.kernel;
    let (in_plane, out_plane) = (it * ih * iw, ot * oh * ow);
    let zero = MaybeUninit::new(0.0);
    for p in 0..g.planes {
        let gxp = &mut gx[p * in_plane..(p + 1) * in_plane];
        for zt in 0..ot {
            for zh in 0..oh {
                let o = p * out_plane + (zt * oh + zh) * ow;
                let first_row = (zt * kt * ih + zh * kh) * iw;
                window_rows(kernels, gxp, first_row, g, &gy[o..o + ow], &arg[o..o + ow]);
            }
        }
        // Rows past the last window in t (all of them) or in h (those of each covered t).
        for t in 0..it {
            let uncovered = if t < ot * kt { oh * kh..ih } else { 0..ih };
            for h in uncovered {
                gxp[(t * ih + h) * iw..(t * ih + h + 1) * iw].fill(zero);
            }
        }
    }
}

/// The kt·kh gx rows of one output row of windows, starting at `first_row` of the plane `gxp`:
/// the covered part (ow windows of kw) from the windows' gy and argmax, zeros past it.
fn window_rows(
    kernels: Kernels,
    gxp: &mut [MaybeUninit<f32>],
    first_row: usize,
    g: &Pool3dGeometry,
    gy: &[f32],
    arg: &[u32],
) {
    let [_, ih, iw] = g.input;
    let [kt, kh, kw] = g.kernel;
    let covered = gy.len() * kw;
    let rows = (0..kt).flat_map(|dt| (0..kh).map(move |dh| first_row + dt * ih * iw + dh * iw));
    if let Some(simd) = simd_w2(kernels, kw) {
        #[cfg(target_arch = "x86_64")]
        // Safety: `max_backward_tiles_with` asserted that this CPU has these kernels' level.
        unsafe {
            if simd == Kernels::Avx512 {
                avx512::spread_w2(gxp, first_row, [kt, kh], [ih * iw, iw], gy, arg)
            } else {
                avx2::spread_w2(gxp, first_row, [kt, kh], [ih * iw, iw], gy, arg)
            }
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = simd;
    } else {
        for r in rows.clone() {
            let row = &mut gxp[r..r + covered];
            match kw {
                1 => spread_row::<1>(row, kw, r, gy, arg),
                2 => spread_row::<2>(row, kw, r, gy, arg),
                _ => spread_row::<0>(row, kw, r, gy, arg),
            }
        }
    }
    for r in rows {
        gxp[r + covered..r + iw].fill(MaybeUninit::new(0.0));
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

// The driver: `PoolOps` for the fast backend, f32 planes split into groups, one parallel task
// each, on the tiling kernels above where the windows tile the input and on the reference
// loops otherwise; f64 on the reference.

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

impl PoolOps for CpuFast {
    fn max_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry) -> Result<(Tensor, Tensor)> {
        if x.dtype() != DType::F32 {
            return CpuReference.max_pool3d_forward(x, g);
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
                if tiles(&sub) {
                    max_forward(part, yp, ap, &sub);
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
        if gy.dtype() != DType::F32 {
            return CpuReference.max_pool3d_backward(gy, argmax, g);
        }
        const OP: &str = "max_pool3d_backward";
        let (gys, args) = (gy.as_slice::<f32>(OP)?, argmax.as_slice::<u32>(OP)?);
        let (in_plane, out_plane) = (g.input.iter().product::<usize>(), g.output.iter().product::<usize>());
        let range = |p0: usize, sub: &Pool3dGeometry| p0 * out_plane..(p0 + sub.planes) * out_plane;
        let gx = if tiles(g) {
            let mut gx = uninit::<f32>(g.planes * in_plane);
            per_planes(g, &mut gx, in_plane, |sub, p0, part| {
                max_backward_tiles(&gys[range(p0, sub)], &args[range(p0, sub)], part, sub);
            });
            // Safety: the plane groups cover gx, and the tiling backward writes every element.
            unsafe { assume_init(gx) }
        } else {
            let mut gx = vec![0f32; g.planes * in_plane];
            per_planes(g, &mut gx, in_plane, |sub, p0, part| {
                max_backward(&gys[range(p0, sub)], &args[range(p0, sub)], part, sub);
            });
            gx
        };
        Tensor::from_vec(&g.input_dims(), gx)
    }

    fn avg_pool3d_forward(&self, x: &Tensor, g: &Pool3dGeometry, count_include_pad: bool) -> Result<Tensor> {
        if x.dtype() != DType::F32 {
            return CpuReference.avg_pool3d_forward(x, g, count_include_pad);
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
        if gy.dtype() != DType::F32 {
            return CpuReference.avg_pool3d_backward(gy, g, count_include_pad);
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
}

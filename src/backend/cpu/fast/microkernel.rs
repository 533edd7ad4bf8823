//! The f32 GEMM micro-kernel of the packed convolution (`packed_conv.rs`): one tile of C,
//! MR rows × (8·NV) columns with NV ∈ {1, 2}, gets `ks` rank-1 updates from packed panels.
//!
//! Panel layouts (both written by `packed_conv.rs`):
//! - A panel (ks × MR): for each k, the MR rows' values side by side;
//! - B panel (ks × width), width = 8·NV: for each k, the panel's columns side by side.
//!
//! `multiply` drives the tiles over runs of panels; on the AVX-512 level its 512-bit kernel
//! (`avx512`) takes several 16-wide B panels (or A panels) per tile.
//!
//! 6 × 16 keeps 12 accumulators in ymm registers, loads 2 B vectors and broadcasts 6 A values
//! per k for 12 FMAs, within Zen 3's two loads per cycle, and leaves one register spare (4 × 24
//! needs all 16, and LLVM then spilled an accumulator every k: half the speed). Tiles of at most
//! 4 rows run a 4-row kernel, so channel counts of 4 mod 6 (8, 16, 64) waste no FMAs, and an
//! 8-wide variant closes a block's last columns.

use super::isa::{self, CpuIsa};

/// Rows of a tile (output channels).
pub const MR: usize = 6;
/// Columns of a full tile (output positions); narrower tiles are multiples of `LANES`.
pub const NR: usize = 16;
/// f32 lanes of a ymm register.
pub const LANES: usize = 8;

/// The width (8 or 16) of the tile covering `cols` ≤ NR valid columns.
pub fn tile_width(cols: usize) -> usize {
    cols.div_ceil(LANES).max(1) * LANES
}

/// Whether the active ISA level (`isa::active`) runs the AVX2 + FMA kernels (or better).
pub fn has_avx2_fma() -> bool {
    isa::active() >= CpuIsa::Avx2
}

/// A run of packed panels, `stride` floats apart, from `ptr` on.
#[derive(Clone, Copy)]
pub struct Panels {
    pub ptr: *const f32,
    pub stride: usize,
}

/// C (rows × cols, row stride `ldc`) += A (rows × ks) · B (ks × cols), from rows k0 .. k0 + ks
/// of packed panels: A panel i (ks × MR, rows i·MR ..) at `a.ptr + i·a.stride`, B panel j (NR
/// columns j·NR .., `tile_width` of them in the last) at `b.ptr + j·b.stride`. A rows ≥ `rows`
/// and B columns ≥ `cols` are padding: computed, never stored.
///
/// B panels are the outer loop, so a group of them stays in L1 while the A panels pass. Each
/// element of C gets its ks products added in k order, one FMA at a time, at every level but
/// `portable` (separate multiply and add) and whatever the tiling: the AVX2 and AVX-512 levels
/// give the same bits.
///
/// # Safety
/// The panels must hold the addressed rows (an A panel (k0 + ks)·MR floats, a B panel
/// (k0 + ks)·width), and `c + i·ldc + j` be valid for reads and writes for i < rows,
/// j < cols, with no other thread touching them.
#[allow(clippy::too_many_arguments)]
pub unsafe fn multiply(ks: usize, k0: usize, a: Panels, rows: usize, b: Panels, cols: usize, c: *mut f32, ldc: usize) {
    #[cfg(target_arch = "x86_64")]
    if isa::active() == CpuIsa::Avx512 {
        return avx512::multiply(ks, k0, a, rows, b, cols, c, ldc);
    }
    for j in 0..cols.div_ceil(NR) {
        let valid = (cols - j * NR).min(NR);
        let width = tile_width(valid);
        let b_panel = b.ptr.add(j * b.stride + k0 * width);
        for i in 0..rows.div_ceil(MR) {
            let a_panel = a.ptr.add(i * a.stride + k0 * MR);
            let r = (rows - i * MR).min(MR);
            tile(width, ks, a_panel, b_panel, c.add(i * MR * ldc + j * NR), ldc, r, valid);
        }
    }
}

/// c (rows × cols, row stride `ldc`) += a (rows × ks) · b (ks × cols), from an A panel (ks × MR)
/// and a B panel (ks × `width`), width = `tile_width(cols)`. Rows ≥ `rows` of the A panel and
/// columns ≥ `cols` of the B panel are padding: computed, never stored.
///
/// # Safety
/// `a` must be valid for ks·MR reads, `b` for ks·width reads, and `c + i·ldc + j` valid for
/// reads and writes for i < rows ≤ MR, j < cols ≤ width, with no other thread touching them.
#[allow(clippy::too_many_arguments)]
pub unsafe fn tile(
    width: usize,
    ks: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
) {
    debug_assert!(rows <= MR && cols <= width && width.is_multiple_of(LANES) && width <= NR);
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // A 4-row kernel for the last rows of a channel count that is 4 mod 6 (8, 16, 64...):
        // no FMAs on padding rows.
        return match (rows > 4, width) {
            (true, 16) => avx2::tile::<6, 2>(ks, a, b, c, ldc, rows, cols),
            (true, _) => avx2::tile::<6, 1>(ks, a, b, c, ldc, rows, cols),
            (false, 16) => avx2::tile::<4, 2>(ks, a, b, c, ldc, rows, cols),
            (false, _) => avx2::tile::<4, 1>(ks, a, b, c, ldc, rows, cols),
        };
    }
    portable(width, ks, a, b, c, ldc, rows, cols)
}

/// The same tile in plain Rust (machines without AVX2, and the reference for the AVX2 one).
#[allow(clippy::too_many_arguments)]
unsafe fn portable(
    width: usize,
    ks: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
) {
    let mut acc = [[0f32; NR]; MR];
    for (i, row) in acc.iter_mut().enumerate().take(rows) {
        for (j, v) in row.iter_mut().enumerate().take(cols) {
            *v = *c.add(i * ldc + j);
        }
    }
    let (mut ak, mut bk) = (a, b);
    for _ in 0..ks {
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = *ak.add(i);
            for (j, v) in row.iter_mut().enumerate().take(width) {
                *v += ai * *bk.add(j);
            }
        }
        ak = ak.add(MR);
        bk = bk.add(width);
    }
    for (i, row) in acc.iter().enumerate().take(rows) {
        for (j, &v) in row.iter().enumerate().take(cols) {
            *c.add(i * ldc + j) = v;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{LANES, MR, NR};

    /// The tile's top R rows (R ≤ MR; the A panel keeps its MR stride) × NV vectors, with the
    /// R·NV accumulators in registers. Partial tiles go through a stack copy of C so the loop
    /// body is the same for every tile.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile<const R: usize, const NV: usize>(
        ks: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
    ) {
        let full = rows == R && cols == NV * LANES;
        let mut spill = [0f32; MR * NR];
        let (dst, ld) = if full {
            (c, ldc)
        } else {
            for i in 0..rows {
                std::ptr::copy_nonoverlapping(c.add(i * ldc), spill.as_mut_ptr().add(i * NR), cols);
            }
            (spill.as_mut_ptr(), NR)
        };
        let mut acc = [[_mm256_setzero_ps(); NV]; R];
        for (i, row) in acc.iter_mut().enumerate() {
            for (v, r) in row.iter_mut().enumerate() {
                *r = _mm256_loadu_ps(dst.add(i * ld + v * LANES));
            }
        }
        let (mut ak, mut bk) = (a, b);
        for _ in 0..ks {
            let mut bv = [_mm256_setzero_ps(); NV];
            for (v, r) in bv.iter_mut().enumerate() {
                *r = _mm256_loadu_ps(bk.add(v * LANES));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*ak.add(i));
                for (r, &bvv) in row.iter_mut().zip(&bv) {
                    *r = _mm256_fmadd_ps(ai, bvv, *r);
                }
            }
            ak = ak.add(MR);
            bk = bk.add(NV * LANES);
        }
        for (i, row) in acc.iter().enumerate() {
            for (v, r) in row.iter().enumerate() {
                _mm256_storeu_ps(dst.add(i * ld + v * LANES), *r);
            }
        }
        if !full {
            for i in 0..rows {
                std::ptr::copy_nonoverlapping(spill.as_ptr().add(i * NR), c.add(i * ldc), cols);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{tile, tile_width, Panels, MR, NR};

    /// zmm lanes: one 16-wide B panel per vector.
    const ZL: usize = 16;

    /// A panels (of MR rows) per tile: 12 rows.
    const RP: usize = 2;
    /// Full-width B panels per tile: 32 columns. 12 × 32 keeps 24 accumulators in zmm registers
    /// and per k loads 2 B vectors and broadcasts 12 A values for 24 FMAs; the B group (KC × 32
    /// floats, 32 KB) stays in L1. Measured on an Emerald Rapids core (CPU time of conv3b
    /// forward, batch 1): 12 × 32 ≈ 0.80 s, 18 × 16 0.85 s, 6 × 64 0.86 s, 12 × 48 (36
    /// accumulators: spills) 1.15 s, the AVX2 6 × 16 1.44 s.
    const NV: usize = 2;

    /// `super::multiply` with 512-bit tiles over groups of full-width B panels; a last 8-wide
    /// panel goes to the AVX2 tile (same FMAs in the same order).
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn multiply(
        ks: usize,
        k0: usize,
        a: Panels,
        rows: usize,
        b: Panels,
        cols: usize,
        c: *mut f32,
        ldc: usize,
    ) {
        let panels = cols.div_ceil(NR);
        let narrow_last = tile_width((cols - (panels - 1) * NR).min(NR)) < ZL;
        let full = panels - narrow_last as usize;
        let row_panels = rows.div_ceil(MR);
        for j0 in (0..full).step_by(NV) {
            let nv = NV.min(full - j0);
            let g_cols = (cols - j0 * NR).min(nv * NR);
            let b0 = b.ptr.add(j0 * b.stride + k0 * ZL);
            for i0 in (0..row_panels).step_by(RP) {
                let r = (rows - i0 * MR).min(RP * MR);
                let a0 = a.ptr.add(i0 * a.stride + k0 * MR);
                let ct = c.add(i0 * MR * ldc + j0 * NR);
                let args = (ks, a0, a.stride, b0, b.stride, ct, ldc, r, g_cols);
                // A last A panel of at most 4 rows (channel counts 4 mod 6) takes a 4-row part.
                let short = r - (r.div_ceil(MR) - 1) * MR <= 4;
                match (r > MR, short, nv) {
                    (false, true, 1) => tile512::<4, 1>(args),
                    (false, true, _) => tile512::<4, 2>(args),
                    (false, false, 1) => tile512::<6, 1>(args),
                    (false, false, _) => tile512::<6, 2>(args),
                    (true, true, 1) => tile512::<10, 1>(args),
                    (true, true, _) => tile512::<10, 2>(args),
                    (true, false, 1) => tile512::<12, 1>(args),
                    (true, false, _) => tile512::<12, 2>(args),
                }
            }
        }
        if narrow_last {
            let j = panels - 1;
            let valid = cols - j * NR;
            let b_panel = b.ptr.add(j * b.stride + k0 * tile_width(valid));
            for i in 0..row_panels {
                let r = (rows - i * MR).min(MR);
                let a_panel = a.ptr.add(i * a.stride + k0 * MR);
                tile(
                    tile_width(valid),
                    ks,
                    a_panel,
                    b_panel,
                    c.add(i * MR * ldc + j * NR),
                    ldc,
                    r,
                    valid,
                );
            }
        }
    }

    /// (ks, A panel, A panel stride, B panel, B panel stride, C, ldc, rows, cols).
    type TileArgs = (
        usize,
        *const f32,
        usize,
        *const f32,
        usize,
        *mut f32,
        usize,
        usize,
        usize,
    );

    /// One tile of R rows (from R.div_ceil(MR) A panels; rows past `rows` are computed, not
    /// stored) × NV full-width B panels (columns past `cols` likewise), its R·NV accumulators
    /// in zmm registers; partial rows and columns are masked loads and stores of C.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
    unsafe fn tile512<const R: usize, const NV: usize>((ks, a, a_stride, b, b_stride, c, ldc, rows, cols): TileArgs) {
        let masks: [__mmask16; NV] = std::array::from_fn(|v| {
            let valid = cols.saturating_sub(v * ZL).min(ZL);
            ((1u32 << valid) - 1) as __mmask16
        });
        let mut acc = [[_mm512_setzero_ps(); NV]; R];
        for (i, row) in acc.iter_mut().enumerate().take(rows) {
            for (v, r) in row.iter_mut().enumerate() {
                *r = _mm512_maskz_loadu_ps(masks[v], c.add(i * ldc + v * ZL));
            }
        }
        // Row i of the tile is lane i % MR of A panel i / MR.
        let a_rows: [*const f32; R] = std::array::from_fn(|i| a.add((i / MR) * a_stride + i % MR));
        let b_cols: [*const f32; NV] = std::array::from_fn(|v| b.add(v * b_stride));
        for k in 0..ks {
            let bv: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(b_cols[v].add(k * ZL)));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*a_rows[i].add(k * MR));
                for (r, &bvv) in row.iter_mut().zip(&bv) {
                    *r = _mm512_fmadd_ps(ai, bvv, *r);
                }
            }
        }
        for (i, row) in acc.iter().enumerate().take(rows) {
            for (v, r) in row.iter().enumerate() {
                _mm512_mask_storeu_ps(c.add(i * ldc + v * ZL), masks[v], *r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every width and partial shape against a plain triple loop with values exact in f32
    /// (small integers), so AVX2 and portable must agree to the bit.
    #[test]
    fn tiles_match_a_triple_loop() {
        for width in [8, 16] {
            for (rows, cols) in [
                (MR, width),
                (5, width),
                (4, width),
                (3, width - 5),
                (MR, width - 5),
                (1, 1),
            ] {
                let ks = 7;
                let a: Vec<f32> = (0..ks * MR).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
                let b: Vec<f32> = (0..ks * width).map(|i| ((i * 3) % 7) as f32 - 3.0).collect();
                let ldc = width + 3;
                let c0: Vec<f32> = (0..MR * ldc).map(|i| (i % 4) as f32).collect();
                let mut want = c0.clone();
                for i in 0..rows {
                    for j in 0..cols {
                        for k in 0..ks {
                            want[i * ldc + j] += a[k * MR + i] * b[k * width + j];
                        }
                    }
                }
                let mut got = c0.clone();
                let mut plain = c0.clone();
                unsafe {
                    tile(width, ks, a.as_ptr(), b.as_ptr(), got.as_mut_ptr(), ldc, rows, cols);
                    portable(width, ks, a.as_ptr(), b.as_ptr(), plain.as_mut_ptr(), ldc, rows, cols);
                }
                assert_eq!(got, want, "width {width}, {rows} x {cols}");
                assert_eq!(plain, want, "portable, width {width}, {rows} x {cols}");
            }
        }
    }

    /// `multiply` at the AVX2 level's tiling and (where the CPU has it) the AVX-512 one, over
    /// several A and B panels with partial last ones (rows 1 ..= 19, columns 1 ..= 71, so every
    /// 4/6-row and 8/16-wide edge and every group of B panels occurs) and a skipped prefix of
    /// k: both equal a triple loop on values exact in f32.
    #[test]
    fn multiply_matches_a_triple_loop_at_every_level() {
        let (ks, k0) = (5, 2);
        for rows in [1usize, 4, 5, 6, 10, 11, 12, 16, 17, 19] {
            for cols in [1usize, 8, 9, 16, 17, 24, 33, 48, 64, 65, 71] {
                let (rp, cp) = (rows.div_ceil(MR), cols.div_ceil(NR));
                let a_stride = (k0 + ks) * MR + 3;
                let b_stride = (k0 + ks) * NR + 5;
                let a: Vec<f32> = (0..rp * a_stride).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
                let b: Vec<f32> = (0..cp * b_stride).map(|i| ((i * 3) % 7) as f32 - 3.0).collect();
                let ldc = cols + 2;
                let c0: Vec<f32> = (0..rows * ldc).map(|i| (i % 4) as f32).collect();
                let mut want = c0.clone();
                for i in 0..rows {
                    for j in 0..cols {
                        let width = tile_width((cols - j / NR * NR).min(NR));
                        for k in k0..k0 + ks {
                            let av = a[i / MR * a_stride + k * MR + i % MR];
                            want[i * ldc + j] += av * b[j / NR * b_stride + k * width + j % NR];
                        }
                    }
                }
                let pa = Panels {
                    ptr: a.as_ptr(),
                    stride: a_stride,
                };
                let pb = Panels {
                    ptr: b.as_ptr(),
                    stride: b_stride,
                };
                let mut got = c0.clone();
                unsafe { multiply(ks, k0, pa, rows, pb, cols, got.as_mut_ptr(), ldc) };
                assert_eq!(got, want, "{} level, {rows} x {cols}", isa::active());
                #[cfg(target_arch = "x86_64")]
                if CpuIsa::Avx512.supported() {
                    let mut wide = c0.clone();
                    unsafe { avx512::multiply(ks, k0, pa, rows, pb, cols, wide.as_mut_ptr(), ldc) };
                    assert_eq!(wide, want, "avx512, {rows} x {cols}");
                }
            }
        }
    }
}

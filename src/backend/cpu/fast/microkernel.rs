//! The f32 GEMM micro-kernel of the packed convolution (`packed_conv.rs`): one tile of C,
//! MR rows × (8·NV) columns with NV ∈ {1, 2}, gets `ks` rank-1 updates from packed panels.
//!
//! Panel layouts (both written by `packed_conv.rs`):
//! - A panel (ks × MR): for each k, the MR rows' values side by side;
//! - B panel (ks × width), width = 8·NV: for each k, the panel's columns side by side.
//!
//! 6 × 16 keeps 12 accumulators in ymm registers, loads 2 B vectors and broadcasts 6 A values
//! per k for 12 FMAs, within Zen 3's two loads per cycle, and leaves one register spare (4 × 24
//! needs all 16, and LLVM then spilled an accumulator every k: half the speed). Tiles of at most
//! 4 rows run a 4-row kernel, so channel counts of 4 mod 6 (8, 16, 64) waste no FMAs, and an
//! 8-wide variant closes a block's last columns.

use std::sync::OnceLock;

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

/// Whether this CPU runs the AVX2 + FMA kernel (checked once).
pub fn has_avx2_fma() -> bool {
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
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
}

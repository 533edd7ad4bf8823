//! The kernels' parameter structs, mirrored field for field from kernels/common.cuh (pointers
//! are device addresses as u64). `tests/cuda_emulation.rs` compares every size and offset
//! with what the C++ compiler produced. Field comments give shapes; see common.cuh for more.

use super::launcher::DevicePtr;
use crate::tensor::DType;

/// The element type of a kernel instantiation: the `_f32` / `_f64` suffix of its name.
pub trait KernelFloat: Copy + Default + Send + Sync + 'static {
    const SUFFIX: &'static str;
    const DTYPE: DType;
    fn from_f64(v: f64) -> Self;
}
impl KernelFloat for f32 {
    const SUFFIX: &'static str = "f32";
    const DTYPE: DType = DType::F32;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
impl KernelFloat for f64 {
    const SUFFIX: &'static str = "f64";
    const DTYPE: DType = DType::F64;
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// Marker for structs that may be handed to a kernel as raw bytes.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, `Copy`, and mirror a struct of kernels/common.cuh.
pub unsafe trait KernelParams: Copy + Send + Sync + 'static {}

/// The bytes of a parameter struct, as the driver copies them into the kernel's argument.
pub fn as_bytes<P: KernelParams>(p: &P) -> &[u8] {
    // SAFETY: P is a plain repr(C) value (KernelParams contract); padding bytes are never
    // read as values by the kernel.
    unsafe { std::slice::from_raw_parts(p as *const P as *const u8, std::mem::size_of::<P>()) }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Conv3dParams<T> {
    pub x: DevicePtr,  // (N, C, T, H, W)
    pub w: DevicePtr,  // (O, C, KT, KH, KW)
    pub b: DevicePtr,  // (O) or 0
    pub gy: DevicePtr, // (N, O, T', H', W')
    pub out: DevicePtr,
    pub batch: i32,
    pub in_ch: i32,
    pub out_ch: i32,
    pub in_t: i32,
    pub in_h: i32,
    pub in_w: i32,
    pub k_t: i32,
    pub k_h: i32,
    pub k_w: i32,
    pub s_t: i32,
    pub s_h: i32,
    pub s_w: i32,
    pub p_t: i32,
    pub p_h: i32,
    pub p_w: i32,
    pub out_t: i32,
    pub out_h: i32,
    pub out_w: i32,
    pub k_splits: i32,
    pub partial: DevicePtr, // (k_splits, O, C·KT·KH·KW) split-K workspace of the weight gradient
    pub _elem: std::marker::PhantomData<T>,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Pool3dParams<T> {
    pub x: DevicePtr,       // (N, C, T, H, W)
    pub gy: DevicePtr,      // (N, C, T', H', W')
    pub arg: DevicePtr,     // (N, C, T', H', W') u32
    pub arg_out: DevicePtr, // (N, C, T', H', W') u32
    pub out: DevicePtr,
    pub planes: i32,
    pub in_t: i32,
    pub in_h: i32,
    pub in_w: i32,
    pub k_t: i32,
    pub k_h: i32,
    pub k_w: i32,
    pub s_t: i32,
    pub s_h: i32,
    pub s_w: i32,
    pub p_t: i32,
    pub p_h: i32,
    pub p_w: i32,
    pub out_t: i32,
    pub out_h: i32,
    pub out_w: i32,
    pub count_include_pad: i32,
    pub _elem: std::marker::PhantomData<T>,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ElementwiseParams<T> {
    pub a: DevicePtr,   // (n)
    pub b: DevicePtr,   // (n) or 0
    pub out: DevicePtr, // (n)
    pub n: i64,
    pub factor: T,
    pub seed: u64,
    pub threshold: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LinearParams<T> {
    pub x: DevicePtr,  // (R, I)
    pub w: DevicePtr,  // (O, I)
    pub b: DevicePtr,  // (O) or 0
    pub gy: DevicePtr, // (R, O)
    pub out: DevicePtr,
    pub rows: i32,
    pub ins: i32,
    pub outs: i32,
    pub _elem: std::marker::PhantomData<T>,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TemporalParams<T> {
    pub x: DevicePtr,       // (R, L) or s (R, W)
    pub gy: DevicePtr,      // (R, W) or gf (R)
    pub f: DevicePtr,       // (R)
    pub p: DevicePtr,       // (R, W)
    pub arg: DevicePtr,     // (R, W) u32
    pub arg_out: DevicePtr, // (R, W) u32
    pub out: DevicePtr,
    pub out2: DevicePtr, // (R, W)
    pub rows: i32,
    pub len: i32,
    pub windows: i32,
    pub gamma: T,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LossParams<T> {
    pub x: DevicePtr,      // (R, K)
    pub gy: DevicePtr,     // (R, K)
    pub labels: DevicePtr, // (R) u32
    pub out: DevicePtr,    // (R, K) or (1)
    pub rows: i32,
    pub classes: i32,
    pub scale: T,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PermuteParams<T> {
    pub x: DevicePtr,
    pub out: DevicePtr,
    pub n: i64,
    pub rank: i32,
    pub out_dims: [i32; 5],
    pub in_strides: [i64; 5],
    pub _elem: std::marker::PhantomData<T>,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SgdSlot<T> {
    pub p: DevicePtr,   // (len)
    pub g: DevicePtr,   // (len)
    pub buf: DevicePtr, // (len) or 0
    pub p_out: DevicePtr,
    pub buf_out: DevicePtr,
    pub offset: i64,
    pub len: i64,
    pub _elem: std::marker::PhantomData<T>,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SgdParams<T> {
    pub slots: DevicePtr, // (num_slots) SgdSlot<T>
    pub num_slots: i32,
    pub nesterov: i32,
    pub total: i64,
    pub lr: T,
    pub weight_decay: T,
    pub momentum: T,
    pub dampening: T,
    pub grad_scale: T,
}

/// n / d for 0 <= n < 2^31 as (n · mul) >> shift (kernels/common.cuh `stsm_div`):
/// Granlund–Montgomery with shift = 31 + ceil(log2 d) and mul = ceil(2^shift / d), which is
/// exact for every 31-bit n because mul · d − 2^shift < d <= 2^(shift − 31).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StsmDiv {
    pub mul: u32,
    pub shift: u32,
}

impl StsmDiv {
    /// The pair for divisor `d` (1 <= d < 2^31; 0 is treated as 1 so unused fields stay valid).
    pub fn new(d: usize) -> StsmDiv {
        let d = d.clamp(1, i32::MAX as usize) as u64;
        let l = 64 - (d - 1).leading_zeros(); // ceil(log2 d); 0 for d = 1
        let shift = 31 + l;
        StsmDiv {
            mul: ((1u64 << shift).div_ceil(d)) as u32,
            shift,
        }
    }

    /// What the kernel computes.
    pub fn apply(self, n: u32) -> u32 {
        ((n as u64 * self.mul as u64) >> self.shift) as u32
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Conv3dBf16Params {
    pub x: DevicePtr,       // (N, T, H, W, Cp) bf16
    pub w: DevicePtr,       // fwd (O, taps, Cp), xbwd (C, taps, Op) bf16
    pub b: DevicePtr,       // (O) f32 or 0
    pub gy: DevicePtr,      // (N, T', H', W', Op) bf16
    pub out: DevicePtr,     // fwd y (N, T', H', W', Op), xbwd gx (N, T, H, W, Cp) bf16
    pub out_f32: DevicePtr, // fwd (N, T', H', W', O), xbwd (N, T, H, W, C) or 0; wbwd gw
    pub partial: DevicePtr, // (k_splits, GEMM rows, GEMM cols) f32 or 0
    pub batch: i32,
    pub in_ch: i32,
    pub out_ch: i32,
    pub in_chp: i32,
    pub out_chp: i32,
    pub in_t: i32,
    pub in_h: i32,
    pub in_w: i32,
    pub k_t: i32,
    pub k_h: i32,
    pub k_w: i32,
    pub s_t: i32,
    pub s_h: i32,
    pub s_w: i32,
    pub p_t: i32,
    pub p_h: i32,
    pub p_w: i32,
    pub out_t: i32,
    pub out_h: i32,
    pub out_w: i32,
    pub relu: i32,
    pub k_splits: i32,
    pub split_steps: i32,
    pub div_vecs: StsmDiv,
    pub div_kw: StsmDiv,
    pub div_kh: StsmDiv,
    pub div_w: StsmDiv,
    pub div_h: StsmDiv,
    pub div_t: StsmDiv,
    pub div_st: StsmDiv,
    pub div_sh: StsmDiv,
    pub div_sw: StsmDiv,
    pub div_tiles_n: StsmDiv,
    pub div_tiles: StsmDiv,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Bf16LayoutParams {
    pub src: DevicePtr,
    pub dst: DevicePtr,
    pub n: i64,
    pub outer: i32,
    pub channels: i32,
    pub channels_p: i32,
    pub inner: i32,
}

// SAFETY: all are repr(C) mirrors of common.cuh built from plain integers and floats.
unsafe impl<T: KernelFloat> KernelParams for Conv3dParams<T> {}
unsafe impl<T: KernelFloat> KernelParams for Pool3dParams<T> {}
unsafe impl<T: KernelFloat> KernelParams for ElementwiseParams<T> {}
unsafe impl<T: KernelFloat> KernelParams for LinearParams<T> {}
unsafe impl<T: KernelFloat> KernelParams for TemporalParams<T> {}
unsafe impl<T: KernelFloat> KernelParams for LossParams<T> {}
unsafe impl<T: KernelFloat> KernelParams for PermuteParams<T> {}
unsafe impl<T: KernelFloat> KernelParams for SgdSlot<T> {}
unsafe impl<T: KernelFloat> KernelParams for SgdParams<T> {}
unsafe impl KernelParams for Conv3dBf16Params {}
unsafe impl KernelParams for Bf16LayoutParams {}

/// (struct name as the C++ layout table spells it, field, offset) for every field, plus a
/// ("sizeof", size) row per struct: what the layout test compares.
pub fn layout_rows() -> Vec<(String, &'static str, usize)> {
    let mut rows = Vec::new();
    macro_rules! rows {
        ($ty:ident, $($f:ident),*) => {
            for (suffix, size, offs) in [
                ("f32", std::mem::size_of::<$ty<f32>>(), vec![$((stringify!($f), std::mem::offset_of!($ty<f32>, $f))),*]),
                ("f64", std::mem::size_of::<$ty<f64>>(), vec![$((stringify!($f), std::mem::offset_of!($ty<f64>, $f))),*]),
            ] {
                let name = format!("{}<{}>", stringify!($ty), suffix);
                rows.push((name.clone(), "sizeof", size));
                rows.extend(offs.into_iter().map(|(f, o)| (name.clone(), f, o)));
            }
        };
    }
    rows!(
        Conv3dParams,
        x,
        w,
        b,
        gy,
        out,
        batch,
        in_ch,
        out_ch,
        in_t,
        in_h,
        in_w,
        k_t,
        k_h,
        k_w,
        s_t,
        s_h,
        s_w,
        p_t,
        p_h,
        p_w,
        out_t,
        out_h,
        out_w,
        k_splits,
        partial
    );
    rows!(
        Pool3dParams,
        x,
        gy,
        arg,
        arg_out,
        out,
        planes,
        in_t,
        in_h,
        in_w,
        k_t,
        k_h,
        k_w,
        s_t,
        s_h,
        s_w,
        p_t,
        p_h,
        p_w,
        out_t,
        out_h,
        out_w,
        count_include_pad
    );
    rows!(ElementwiseParams, a, b, out, n, factor, seed, threshold);
    rows!(LinearParams, x, w, b, gy, out, rows, ins, outs);
    rows!(
        TemporalParams,
        x,
        gy,
        f,
        p,
        arg,
        arg_out,
        out,
        out2,
        rows,
        len,
        windows,
        gamma
    );
    rows!(LossParams, x, gy, labels, out, rows, classes, scale);
    rows!(PermuteParams, x, out, n, rank, out_dims, in_strides);
    rows!(SgdSlot, p, g, buf, p_out, buf_out, offset, len);
    rows!(
        SgdParams,
        slots,
        num_slots,
        nesterov,
        total,
        lr,
        weight_decay,
        momentum,
        dampening,
        grad_scale
    );
    // The non-generic structs: one row set each, named as in C++.
    macro_rules! plain_rows {
        ($ty:ident, $($f:ident),*) => {{
            let name = stringify!($ty).to_string();
            rows.push((name.clone(), "sizeof", std::mem::size_of::<$ty>()));
            $(rows.push((name.clone(), stringify!($f), std::mem::offset_of!($ty, $f)));)*
        }};
    }
    plain_rows!(StsmDiv, mul, shift);
    plain_rows!(
        Conv3dBf16Params,
        x,
        w,
        b,
        gy,
        out,
        out_f32,
        partial,
        batch,
        in_ch,
        out_ch,
        in_chp,
        out_chp,
        in_t,
        in_h,
        in_w,
        k_t,
        k_h,
        k_w,
        s_t,
        s_h,
        s_w,
        p_t,
        p_h,
        p_w,
        out_t,
        out_h,
        out_w,
        relu,
        k_splits,
        split_steps,
        div_vecs,
        div_kw,
        div_kh,
        div_w,
        div_h,
        div_t,
        div_st,
        div_sh,
        div_sw,
        div_tiles_n,
        div_tiles
    );
    plain_rows!(Bf16LayoutParams, src, dst, n, outer, channels, channels_p, inner);
    rows
}

#[cfg(test)]
mod tests {
    use super::StsmDiv;

    /// The magic-number division equals integer division for every divisor the kernels use
    /// (sizes up to thousands, large ones too) at the numerators most likely to break it:
    /// multiples of d and their neighbours, the top of the 31-bit range, and a spread between.
    #[test]
    fn magic_division_is_exact_for_31_bit_numerators() {
        let mut divisors: Vec<u32> = (1..=4100).collect();
        divisors.extend([
            65_535,
            65_536,
            100_003,
            1 << 20,
            (1 << 30) + 1,
            i32::MAX as u32 - 1,
            i32::MAX as u32,
        ]);
        let top = i32::MAX as u32;
        for &d in &divisors {
            let div = StsmDiv::new(d as usize);
            let check = |n: u32| assert_eq!(div.apply(n), n / d, "{n} / {d}");
            for n in (0..64).chain(top - 64..=top) {
                check(n);
            }
            for q in [1u32, 2, 3, 7, 1000, top / d] {
                let n = (q as u64 * d as u64).min(top as u64) as u32;
                check(n);
                check(n.saturating_sub(1));
                check(n.saturating_add(1).min(top));
            }
            let mut x = d.wrapping_mul(2_654_435_761);
            for _ in 0..64 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                check(x & top);
            }
        }
    }
}

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
    rows
}

//! The one place the fast CPU path calls a GEMM, and where each float type picks its SIMD
//! convolution paths. `gemm_raw` is single-threaded per call: callers split the work into
//! disjoint output blocks themselves, so results never depend on scheduling.

#[cfg(target_arch = "x86_64")]
use super::direct_conv;
use super::microkernel::has_avx2_fma;
use super::{packed_conv, packed_wgrad, sgd};
use crate::backend::cpu::reference;
use crate::ops::geometry::Conv3dGeometry;
use crate::optim::SgdStep;
use crate::tensor::Float;

/// The float types the fast path runs in: f32 for work, f64 for full-size parity checks.
pub trait FastFloat: Float {
    /// c (m × n, row stride rsc) = a (m × k) · b (k × n) + beta · c; strides in elements.
    ///
    /// # Safety
    /// As `matrixmultiply::sgemm`: every addressed element must be valid, and c's unaliased.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: *mut Self,
        rsc: isize,
    );

    /// Conv3d forward on a SIMD path (`direct_conv.rs` or `packed_conv.rs`), where this type,
    /// CPU and geometry have one.
    fn simd_conv_forward(_x: &[Self], _w: &[Self], _bias: Option<&[Self]>, _g: &Conv3dGeometry) -> Option<Vec<Self>> {
        None
    }

    /// Conv3d input gradient on a SIMD path (the convolution of gy with the flipped weights, on
    /// `direct_conv.rs` or `packed_conv.rs`), where this type, CPU and geometry have one.
    fn simd_conv_x_backward(_gy: &[Self], _w: &[Self], _g: &Conv3dGeometry) -> Option<Vec<Self>> {
        None
    }

    /// Conv3d weight gradient on a SIMD path (`direct_conv.rs` or `packed_wgrad.rs`), where this
    /// type, CPU and geometry have one.
    fn simd_conv_weight_backward(_gy: &[Self], _x: &[Self], _g: &Conv3dGeometry) -> Option<Vec<Self>> {
        None
    }

    /// `reference::optim::sgd_step_into`, vectorised where this type has a SIMD update
    /// (`sgd.rs`, same bits).
    fn sgd_step_into(
        p: &[Self],
        g: &[Self],
        buf: Option<&[Self]>,
        h: &SgdStep,
        new_p: &mut [Self],
        new_buf: &mut [Self],
    ) {
        reference::optim::sgd_step_into(p, g, buf, h, new_p, new_buf)
    }
}

impl FastFloat for f32 {
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: (*const f32, isize, isize),
        b: (*const f32, isize, isize),
        beta: f32,
        c: *mut f32,
        rsc: isize,
    ) {
        matrixmultiply::sgemm(m, k, n, 1.0, a.0, a.1, a.2, b.0, b.1, b.2, beta, c, rsc, 1)
    }

    fn simd_conv_forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Conv3dGeometry) -> Option<Vec<f32>> {
        if !has_avx2_fma() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if direct_conv::applies(g) {
            return Some(direct_conv::forward(x, w, bias, g));
        }
        packed_conv::pays_off(g).then(|| packed_conv::forward(x, w, bias, g))
    }

    fn simd_conv_x_backward(gy: &[f32], w: &[f32], g: &Conv3dGeometry) -> Option<Vec<f32>> {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            if let Some(gx) = direct_conv::x_backward(gy, w, g) {
                return Some(gx);
            }
        }
        let worth = packed_conv::transposed(g).is_some_and(|t| packed_conv::pays_off(&t));
        (has_avx2_fma() && worth)
            .then(|| packed_conv::x_backward(gy, w, g))
            .flatten()
    }

    fn sgd_step_into(p: &[f32], g: &[f32], buf: Option<&[f32]>, h: &SgdStep, new_p: &mut [f32], new_buf: &mut [f32]) {
        sgd::step_into(p, g, buf, h, new_p, new_buf)
    }

    fn simd_conv_weight_backward(gy: &[f32], x: &[f32], g: &Conv3dGeometry) -> Option<Vec<f32>> {
        if !has_avx2_fma() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if direct_conv::applies(g) {
            return Some(direct_conv::weight_backward(gy, x, g));
        }
        packed_wgrad::pays_off(g).then(|| packed_wgrad::weight_backward(gy, x, g))
    }
}

impl FastFloat for f64 {
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        a: (*const f64, isize, isize),
        b: (*const f64, isize, isize),
        beta: f64,
        c: *mut f64,
        rsc: isize,
    ) {
        matrixmultiply::dgemm(m, k, n, 1.0, a.0, a.1, a.2, b.0, b.1, b.2, beta, c, rsc, 1)
    }
}

/// A strided view of a matrix: element (i, j) is at `i * rs + j * cs`.
#[derive(Clone, Copy)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A contiguous row-major matrix with `cols` columns.
    pub fn rows(data: &'a [T], cols: usize) -> Self {
        MatRef { data, rs: cols, cs: 1 }
    }

    /// The transpose of a contiguous row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [T], cols: usize) -> Self {
        MatRef { data, rs: 1, cs: cols }
    }
}

/// c (m × n, row stride `ldc`) = a (m × k) · b (k × n), plus c's old value if `accumulate`.
///
/// # Safety
/// `c` must be valid for writes at every (i, j) with i < m, j < n, i.e. at `c + i*ldc + j`,
/// and no other thread may touch those elements during the call.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: FastFloat>(
    m: usize,
    n: usize,
    k: usize,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    c: *mut T,
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    debug_assert!(k == 0 || (m - 1) * a.rs + (k - 1) * a.cs < a.data.len());
    debug_assert!(k == 0 || (k - 1) * b.rs + (n - 1) * b.cs < b.data.len());
    let beta = if accumulate { T::one() } else { T::zero() };
    let a = (a.data.as_ptr(), a.rs as isize, a.cs as isize);
    let b = (b.data.as_ptr(), b.rs as isize, b.cs as isize);
    T::gemm_raw(m, k, n, a, b, beta, c, ldc as isize);
}

/// A raw pointer that may cross threads; each user writes a disjoint region (documented at the
/// use site), which is what makes sharing it sound.
pub struct SendPtr<T>(pub *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer. A method (not `.0`) so closures capture the whole `Send` wrapper.
    pub fn get(self) -> *mut T {
        self.0
    }
}

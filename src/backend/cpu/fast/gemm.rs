//! The one place the fast CPU path calls a GEMM. `gemm_raw` is single-threaded per call: callers
//! split the work into disjoint output blocks themselves, so results never depend on scheduling.

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

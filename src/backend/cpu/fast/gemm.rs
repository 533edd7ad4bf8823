//! The one place the fast CPU path calls a GEMM. Single-threaded per call: callers split the
//! work into disjoint output blocks themselves, so results never depend on scheduling.

/// A row-major (or transposed) view of a matrix: element (i, j) is at `i * rs + j * cs`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A contiguous row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        MatRef { data, rs: cols, cs: 1 }
    }

    /// The transpose of a contiguous row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        MatRef { data, rs: 1, cs: cols }
    }
}

/// c (m × n, row stride `ldc`) = a (m × k) · b (k × n), plus c's old value if `accumulate`.
///
/// # Safety
/// `c` must be valid for writes at every (i, j) with i < m, j < n, i.e. at `c + i*ldc + j`,
/// and no other thread may touch those elements during the call.
pub unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    debug_assert!(k == 0 || (m - 1) * a.rs + (k - 1) * a.cs < a.data.len());
    debug_assert!(k == 0 || (k - 1) * b.rs + (n - 1) * b.cs < b.data.len());
    let beta = if accumulate { 1.0 } else { 0.0 };
    matrixmultiply::sgemm(
        m,
        k,
        n,
        1.0,
        a.data.as_ptr(),
        a.rs as isize,
        a.cs as isize,
        b.data.as_ptr(),
        b.rs as isize,
        b.cs as isize,
        beta,
        c,
        ldc as isize,
        1,
    );
}

/// A raw pointer that may cross threads; each user writes a disjoint region (documented at the
/// use site), which is what makes sharing it sound.
#[derive(Clone, Copy)]
pub struct SendPtr(pub *mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer. A method (not `.0`) so closures capture the whole `Send` wrapper.
    pub fn get(self) -> *mut f32 {
        self.0
    }
}

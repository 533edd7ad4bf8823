//! `SendPtr`: how the fast kernels share one output buffer between threads.

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

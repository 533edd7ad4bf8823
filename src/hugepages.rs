//! A global allocator that asks Linux for transparent huge pages on large buffers. Activations,
//! gradients and im2col blocks are tens of megabytes, allocated fresh by every op; on 4 KiB pages
//! each first touch is a page fault plus a page clear, which cost pooling about a fifth of its
//! time. With THP in `madvise` mode (the usual default) the kernel only uses 2 MiB pages where
//! asked: 512× fewer faults. Everything else is the system allocator's.
//!
//! The binary installs it (`src/main.rs`); library users choose their own allocator.
//!
//! Huge pages make faults rare but not the page clearing: memory handed back to the kernel and
//! taken again is cleared once more, a whole extra write pass over every fresh output. glibc
//! unmaps freed buffers above its mmap threshold (at most 32 MiB by default) and trims its heap
//! beyond twice that, so the binary also calls [`keep_freed_buffers`]: freed buffers stay in the
//! heap and the next allocation of their size reuses them, already faulted in. Max-pool pool1
//! forward + backward (a 51 MB gradient) went from about 22 ms to about 10 ms on 2 threads.

use std::alloc::{GlobalAlloc, Layout, System};

/// Buffers at least this large are advised; smaller ones would waste most of a huge page.
const MIN_ADVISED: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

pub struct HugePages;

/// Advises the whole 2 MiB pages inside [ptr, ptr + size).
#[cfg(target_os = "linux")]
fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < MIN_ADVISED {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // Safety: the range lies inside an allocation we own; MADV_HUGEPAGE only changes how the
        // kernel backs it, never its contents. A failure (THP disabled) is harmless.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_ptr: *mut u8, _size: usize) {}

/// Buffers up to this size come from glibc's heap rather than their own mapping.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const HEAP_BUFFERS_UP_TO: libc::c_int = 256 << 20;
/// The heap gives memory back only when this much lies free at its top (and on
/// [`release_free_memory`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_ABOVE: libc::c_int = 1 << 30;

/// Makes glibc keep freed buffers of up to 256 MiB for reuse instead of returning them to the
/// kernel (see the module notes): the process keeps its high-water mark of free heap, up to
/// 1 GiB at the heap's top, and later allocations of the same sizes skip the page faults and
/// clearing. Returns false where the C library is not glibc or refused a setting; nothing changes
/// then but speed.
pub fn keep_freed_buffers() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Safety: mallopt only changes glibc's allocation policy; no memory is touched.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_BUFFERS_UP_TO) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_ABOVE) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Returns the free memory that [`keep_freed_buffers`] keeps to the kernel (glibc's
/// `malloc_trim`), e.g. before measuring the next workload's peak resident memory.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // Safety: malloc_trim only releases free pages of the heap; live allocations are untouched.
    unsafe {
        libc::malloc_trim(0);
    }
}

// Safety: every call forwards to `System` with the same layout; `advise` never moves or frees.
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        advise(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        advise(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        advise(p, new_size);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_accepts_the_keep_freed_buffers_policy() {
        let kept = keep_freed_buffers();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(kept, "glibc refused the mmap or trim threshold");
        // Freed and reallocated under the policy, large buffers still start zeroed when asked.
        let layout = Layout::from_size_align(40 << 20, 64).unwrap();
        // Safety: the layout is non-zero-sized; every pointer is freed with its layout.
        unsafe {
            let p = HugePages.alloc(layout);
            p.write_bytes(0xAB, layout.size());
            HugePages.dealloc(p, layout);
            let q = HugePages.alloc_zeroed(layout);
            assert!((0..layout.size()).step_by(4093).all(|i| *q.add(i) == 0));
            HugePages.dealloc(q, layout);
        }
        release_free_memory();
    }

    #[test]
    fn allocations_of_every_size_work_and_keep_their_contents() {
        for size in [1, 4096, MIN_ADVISED - 1, MIN_ADVISED, 3 * HUGE_PAGE + 17] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            // Safety: layouts are non-zero-sized; every pointer is freed with its layout.
            unsafe {
                let p = HugePages.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert!((0..size).step_by(4099).all(|i| *p.add(i) == 0));
                *p.add(size - 1) = 7;
                let q = HugePages.realloc(p, layout, size * 2);
                assert_eq!(*q.add(size - 1), 7);
                HugePages.dealloc(q, Layout::from_size_align(size * 2, 64).unwrap());
            }
        }
    }
}

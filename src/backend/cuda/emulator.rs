//! The CPU emulator as a `KernelLauncher`: kernels/*.cu compiled by g++ against
//! emu/cuda_emu.hpp (build.rs, feature `cuda-emulation`). Device memory is host memory, with
//! every allocation tracked so copies and frees are bounds-checked.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CString};
use std::sync::{Arc, Mutex, OnceLock};

use super::launcher::{DevicePtr, KernelLauncher, LaunchConfig};
use crate::error::{Error, Result};
use crate::tensor::Device;

extern "C" {
    fn stsm_emu_launch(
        name: *const c_char,
        mutant: c_int,
        grid: *const u32,
        block: *const u32,
        shared_bytes: usize,
        params: *const u8,
        params_size: usize,
        err: *mut c_char,
        err_cap: usize,
    ) -> c_int;
    fn stsm_emu_has_kernel(name: *const c_char, mutant: c_int) -> c_int;
    fn stsm_emu_layout(ty: *const c_char, field: *const c_char) -> usize;
    fn stsm_emu_layout_rows() -> usize;
    fn stsm_emu_static_shared_bytes() -> usize;
    fn stsm_emu_shared_access_counts(name: *const c_char, out: *mut u64) -> c_int;
}

/// Whether the emulator and kernels were built under ASan + UBSan (scripts/emu-sanitize.sh).
pub fn sanitized() -> bool {
    cfg!(stsm_emu_sanitized)
}

/// Whether the emulator and kernels were built under ThreadSanitizer.
pub fn thread_sanitized() -> bool {
    cfg!(stsm_emu_tsan)
}

/// Bytes of emulated static `__shared__` storage that the emulator refills before each block.
pub fn static_shared_bytes() -> usize {
    // SAFETY: no arguments.
    unsafe { stsm_emu_static_shared_bytes() }
}

/// One kind of shared-memory traffic of a launch: warp-level instructions (for stores and
/// cp.async, the n-th access of each lane of a warp counts as one instruction), the 128-byte
/// wavefronts they took (32 banks × 4 bytes; lanes served in phases of 128 bytes: 32 lanes of
/// 4 bytes, 16 of 8, 8 of 16; an ldmatrix serves one 8×8 matrix per phase), and the extra
/// wavefronts beyond one per phase: the bank conflicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedAccessCounts {
    pub instructions: u64,
    pub wavefronts: u64,
    pub extra_wavefronts: u64,
}

/// Shared-memory traffic of one launch through kernels/mma.cuh: `ldmatrix_*`, `cp_async_16`
/// (its shared-memory write) and `st_shared_b{32,64,128}`. Plain C++ shared accesses are not
/// counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BankConflicts {
    pub ldmatrix: SharedAccessCounts,
    pub cp_async: SharedAccessCounts,
    pub st_shared: SharedAccessCounts,
}

impl BankConflicts {
    /// All extra wavefronts: zero for a conflict-free kernel.
    pub fn extra_wavefronts(&self) -> u64 {
        self.ldmatrix.extra_wavefronts + self.cp_async.extra_wavefronts + self.st_shared.extra_wavefronts
    }
}

/// The shared-memory access counts of the last emulated launch of `kernel` (by any emulator
/// in this process; summed over all its blocks), or None if it has not been launched. Tests
/// running in parallel should read the counts of kernels only they launch.
pub fn bank_conflicts(kernel: &str) -> Option<BankConflicts> {
    let name = CString::new(kernel).ok()?;
    let mut v = [0u64; 9];
    // SAFETY: a valid NUL-terminated string and a buffer of the 9 counts the C side writes.
    let found = unsafe { stsm_emu_shared_access_counts(name.as_ptr(), v.as_mut_ptr()) };
    let kind = |k: usize| SharedAccessCounts {
        instructions: v[3 * k],
        wavefronts: v[3 * k + 1],
        extra_wavefronts: v[3 * k + 2],
    };
    (found != 0).then(|| BankConflicts {
        ldmatrix: kind(0),
        cp_async: kind(1),
        st_shared: kind(2),
    })
}

/// Live allocations: start address -> (backing storage, byte length).
type Allocations = BTreeMap<DevicePtr, (Box<[u64]>, usize)>;

#[derive(Debug)]
pub struct Emulator {
    /// Runs the deliberately broken kernels of the mutation tests instead of the real ones.
    mutant: bool,
    allocations: Mutex<Allocations>,
}

impl Emulator {
    pub fn new(mutant: bool) -> Emulator {
        Emulator {
            mutant,
            allocations: Mutex::new(BTreeMap::new()),
        }
    }

    /// The process-wide emulated device behind `Device::CudaEmu`.
    pub fn shared() -> Arc<dyn KernelLauncher> {
        static EMU: OnceLock<Arc<dyn KernelLauncher>> = OnceLock::new();
        Arc::clone(EMU.get_or_init(|| Arc::new(Emulator::new(false))))
    }

    pub fn has_kernel(&self, name: &str) -> bool {
        let Ok(c) = CString::new(name) else { return false };
        // SAFETY: a valid NUL-terminated string.
        unsafe { stsm_emu_has_kernel(c.as_ptr(), self.mutant as c_int) != 0 }
    }

    /// Bytes live on the emulated device (tests check for leaks).
    pub fn live_bytes(&self) -> usize {
        self.allocations
            .lock()
            .map(|a| a.values().map(|(_, n)| n).sum())
            .unwrap_or(0)
    }

    /// Checks that [ptr, ptr + len) lies inside one live allocation.
    fn check_range(&self, what: &str, ptr: DevicePtr, len: usize) -> Result<()> {
        let allocs = self
            .allocations
            .lock()
            .map_err(|_| Error::cuda("emulator", "allocation table poisoned"))?;
        match allocs.range(..=ptr).next_back() {
            Some((&start, &(_, bytes))) if ptr + len as u64 <= start + bytes as u64 => Ok(()),
            _ => Err(Error::cuda(
                "emulator",
                format!("{what}: {len} bytes at {ptr:#x} are outside every live allocation"),
            )),
        }
    }
}

/// Size and field offsets of the parameter structs as the C++ compiler laid them out:
/// `(type, field)` -> offset, or size for field "sizeof"; None if C++ lacks the row.
pub fn cpp_layout(ty: &str, field: &str) -> Option<usize> {
    let (t, f) = (CString::new(ty).ok()?, CString::new(field).ok()?);
    // SAFETY: valid NUL-terminated strings.
    let v = unsafe { stsm_emu_layout(t.as_ptr(), f.as_ptr()) };
    (v != usize::MAX).then_some(v)
}

/// How many rows the C++ layout table has.
pub fn cpp_layout_rows() -> usize {
    // SAFETY: no arguments.
    unsafe { stsm_emu_layout_rows() }
}

impl KernelLauncher for Emulator {
    fn device(&self) -> Device {
        Device::CudaEmu
    }

    fn alloc(&self, bytes: usize) -> Result<DevicePtr> {
        let mut storage = vec![0u64; bytes.div_ceil(8).max(1)].into_boxed_slice();
        // Garbage, like fresh device memory: a kernel that reads before writing shows NaN.
        storage.fill(u64::MAX);
        let ptr = storage.as_ptr() as DevicePtr;
        self.allocations
            .lock()
            .map_err(|_| Error::cuda("emulator", "allocation table poisoned"))?
            .insert(ptr, (storage, bytes));
        Ok(ptr)
    }

    fn free(&self, ptr: DevicePtr) {
        if let Ok(mut a) = self.allocations.lock() {
            a.remove(&ptr);
        }
    }

    fn copy_to_device(&self, dst: DevicePtr, src: &[u8]) -> Result<()> {
        self.check_range("copy to device", dst, src.len())?;
        // SAFETY: the destination range lies inside a live allocation (checked above) that
        // does not overlap the host slice.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
        Ok(())
    }

    fn copy_to_host(&self, src: DevicePtr, dst: &mut [u8]) -> Result<()> {
        self.check_range("copy to host", src, dst.len())?;
        // SAFETY: as above, with the roles swapped.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    unsafe fn launch(&self, kernel: &str, cfg: &LaunchConfig, params: &[u8]) -> Result<()> {
        let name = CString::new(kernel).map_err(|_| Error::cuda(kernel.to_string(), "bad kernel name"))?;
        let mut err = vec![0u8; 4096];
        // SAFETY: the caller guarantees the pointers in `params`; the C++ side checks the
        // struct size against the entry point's parameter type and serialises launches.
        let rc = stsm_emu_launch(
            name.as_ptr(),
            self.mutant as c_int,
            cfg.grid.as_ptr(),
            cfg.block.as_ptr(),
            cfg.shared_bytes as usize,
            params.as_ptr(),
            params.len(),
            err.as_mut_ptr() as *mut c_char,
            err.len(),
        );
        if rc == 0 {
            return Ok(());
        }
        let end = err.iter().position(|&b| b == 0).unwrap_or(err.len());
        Err(Error::cuda(
            format!("emulated launch of {kernel}"),
            String::from_utf8_lossy(&err[..end]).into_owned(),
        ))
    }
}

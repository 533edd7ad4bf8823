//! A caching allocator in front of a launcher: freed device buffers are kept by (rounded)
//! size and handed out again, because `cuMemAlloc`/`cuMemFree` are slow and `cuMemFree`
//! synchronises the whole device — once per op output, that would dominate small layers.
//! Reuse is safe while launches are synchronous (they are) or on one stream. When an
//! allocation fails, the cache is released to the device and the allocation retried once.
//! Not used for the emulator, whose fresh allocations are deliberately filled with garbage.

use std::collections::HashMap;
use std::sync::Mutex;

use super::launcher::{DevicePtr, KernelLauncher, LaunchConfig};
use crate::error::{Error, Result};
use crate::tensor::Device;

/// Sizes round up to 512 bytes, and to whole MiB from 1 MiB on, so buffers of nearly the
/// same size (batch remainders, ragged shapes) share a bucket without wasting much.
fn bucket(bytes: usize) -> usize {
    const SMALL: usize = 512;
    const LARGE: usize = 1 << 20;
    let b = bytes.max(1);
    if b < LARGE {
        b.div_ceil(SMALL) * SMALL
    } else {
        b.div_ceil(LARGE) * LARGE
    }
}

#[derive(Default, Debug)]
struct Pools {
    /// Idle buffers by bucket size.
    idle: HashMap<usize, Vec<DevicePtr>>,
    /// Bucket size of every buffer handed out or idle.
    size_of: HashMap<DevicePtr, usize>,
    idle_bytes: usize,
}

#[derive(Debug)]
pub struct CachingAllocator<L: KernelLauncher> {
    inner: L,
    pools: Mutex<Pools>,
}

impl<L: KernelLauncher> CachingAllocator<L> {
    pub fn new(inner: L) -> Self {
        CachingAllocator {
            inner,
            pools: Mutex::new(Pools::default()),
        }
    }

    fn pools(&self) -> Result<std::sync::MutexGuard<'_, Pools>> {
        self.pools.lock().map_err(|_| Error::cuda("allocator", "lock poisoned"))
    }

    /// Bytes held idle in the cache.
    pub fn idle_bytes(&self) -> usize {
        self.pools().map(|p| p.idle_bytes).unwrap_or(0)
    }

    /// Returns every idle buffer to the device.
    pub fn release_idle(&self) -> Result<()> {
        let mut p = self.pools()?;
        let idle = std::mem::take(&mut p.idle);
        for ptr in idle.into_values().flatten() {
            p.size_of.remove(&ptr);
            self.inner.free(ptr);
        }
        p.idle_bytes = 0;
        Ok(())
    }
}

impl<L: KernelLauncher> KernelLauncher for CachingAllocator<L> {
    fn device(&self) -> Device {
        self.inner.device()
    }

    fn alloc(&self, bytes: usize) -> Result<DevicePtr> {
        let size = bucket(bytes);
        {
            let mut p = self.pools()?;
            if let Some(ptr) = p.idle.get_mut(&size).and_then(Vec::pop) {
                p.idle_bytes -= size;
                return Ok(ptr);
            }
        }
        let ptr = match self.inner.alloc(size) {
            Ok(ptr) => ptr,
            Err(_) => {
                // Perhaps only the cache is in the way: give it back and try once more (the
                // second error, with the device's requested/free bytes, is the one reported).
                self.release_idle()?;
                self.inner.alloc(size)?
            }
        };
        self.pools()?.size_of.insert(ptr, size);
        Ok(ptr)
    }

    fn free(&self, ptr: DevicePtr) {
        let Ok(mut p) = self.pools() else { return };
        match p.size_of.get(&ptr).copied() {
            Some(size) => {
                p.idle.entry(size).or_default().push(ptr);
                p.idle_bytes += size;
            }
            None => self.inner.free(ptr),
        }
    }

    fn copy_to_device(&self, dst: DevicePtr, src: &[u8]) -> Result<()> {
        self.inner.copy_to_device(dst, src)
    }

    fn copy_to_host(&self, src: DevicePtr, dst: &mut [u8]) -> Result<()> {
        self.inner.copy_to_host(src, dst)
    }

    unsafe fn launch(&self, kernel: &str, cfg: &LaunchConfig, params: &[u8]) -> Result<()> {
        self.inner.launch(kernel, cfg, params)
    }

    fn time_on_device(&self, work: &mut dyn FnMut() -> Result<()>) -> Result<Option<f64>> {
        self.inner.time_on_device(work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_up_finely_then_by_mebibyte() {
        assert_eq!(bucket(0), 512);
        assert_eq!(bucket(1), 512);
        assert_eq!(bucket(513), 1024);
        assert_eq!(bucket((1 << 20) - 1), 1 << 20);
        assert_eq!(bucket((1 << 20) + 1), 2 << 20);
    }

    #[cfg(feature = "cuda-emulation")]
    #[test]
    fn freed_buffers_are_reused_and_released_on_demand() {
        use super::super::emulator::Emulator;
        let c = CachingAllocator::new(Emulator::new(false));
        let a = c.alloc(1000).unwrap();
        c.copy_to_device(a, &[7u8; 1000]).unwrap();
        c.free(a);
        assert_eq!(c.idle_bytes(), 1024);
        let b = c.alloc(900).unwrap(); // same bucket: the same buffer
        assert_eq!(a, b);
        assert_eq!(c.idle_bytes(), 0);
        let d = c.alloc(5000).unwrap(); // another bucket: a new buffer
        assert_ne!(d, b);
        c.free(b);
        c.free(d);
        assert_eq!(c.idle_bytes(), 1024 + 5120);
        c.release_idle().unwrap();
        assert_eq!(c.idle_bytes(), 0);
        assert_eq!(c.inner.live_bytes(), 0, "released buffers go back to the device");
    }
}

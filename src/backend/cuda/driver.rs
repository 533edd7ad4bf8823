//! The real GPU as a `KernelLauncher`, through cudarc's thin driver-API wrappers. Launches
//! are synchronous (launch, then synchronise) so a failing kernel is reported by name at its
//! own call; asynchronous streams can come once the kernels are tuned.

use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{result, sys};

use super::caching::CachingAllocator;
use super::launcher::{DevicePtr, KernelLauncher, LaunchConfig};
use super::module_cache::ModuleCache;
use crate::error::{Error, Result};
use crate::tensor::Device;

/// Driver handles are plain pointers, valid from any thread once the context is current.
struct Handles {
    modules: HashMap<u64, sys::CUmodule>,
    functions: HashMap<String, sys::CUfunction>,
}
// SAFETY: CUmodule/CUfunction are process-wide driver handles; every use below first makes
// this device's context current on the calling thread.
unsafe impl Send for Handles {}

pub struct CudaDriver {
    ordinal: usize,
    ctx: usize, // sys::CUcontext as an integer so the struct is Send + Sync
    arch: (i32, i32),
    cache: ModuleCache,
    handles: Mutex<Handles>,
}

impl std::fmt::Debug for CudaDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CudaDriver(cuda:{}, sm_{}{})",
            self.ordinal, self.arch.0, self.arch.1
        )
    }
}

fn driver_err(context: impl Into<String>, e: result::DriverError) -> Error {
    Error::cuda(context, format!("{:?}", e.0))
}

impl CudaDriver {
    /// The launcher of GPU `ordinal` (behind a caching allocator), created on first use.
    pub fn get(ordinal: usize) -> Result<Arc<dyn KernelLauncher>> {
        static DEVICES: OnceLock<Mutex<HashMap<usize, Arc<dyn KernelLauncher>>>> = OnceLock::new();
        let mut map = DEVICES
            .get_or_init(Default::default)
            .lock()
            .map_err(|_| Error::cuda("cuda", "device table poisoned"))?;
        if let Some(l) = map.get(&ordinal) {
            return Ok(Arc::clone(l));
        }
        let l: Arc<dyn KernelLauncher> = Arc::new(CachingAllocator::new(CudaDriver::new(ordinal)?));
        map.insert(ordinal, Arc::clone(&l));
        Ok(l)
    }

    fn new(ordinal: usize) -> Result<CudaDriver> {
        // cudarc panics when libcuda is missing; ask first.
        // SAFETY: only probes dlopen on candidate names.
        if !unsafe { sys::is_culib_present() } {
            return Err(Error::cuda(
                format!("cuda:{ordinal}"),
                "no CUDA driver (libcuda) on this machine",
            ));
        }
        super::nvrtc::ensure_loaded()?;
        result::init().map_err(|e| driver_err("cuInit", e))?;
        let dev = result::device::get(ordinal as i32).map_err(|e| driver_err(format!("cuda:{ordinal}"), e))?;
        // SAFETY: `dev` came from device::get.
        let (ctx, major, minor) = unsafe {
            let ctx = result::primary_ctx::retain(dev).map_err(|e| driver_err("cuDevicePrimaryCtxRetain", e))?;
            let attr = |a| result::device::get_attribute(dev, a).map_err(|e| driver_err("cuDeviceGetAttribute", e));
            (
                ctx,
                attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
                attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
            )
        };
        Ok(CudaDriver {
            ordinal,
            ctx: ctx as usize,
            arch: (major, minor),
            cache: ModuleCache::default(),
            handles: Mutex::new(Handles {
                modules: HashMap::new(),
                functions: HashMap::new(),
            }),
        })
    }

    fn make_current(&self) -> Result<()> {
        // SAFETY: ctx is this device's retained primary context.
        unsafe { result::ctx::set_current(self.ctx as sys::CUcontext) }.map_err(|e| driver_err("cuCtxSetCurrent", e))
    }

    fn function(&self, kernel: &str) -> Result<sys::CUfunction> {
        let mut h = self
            .handles
            .lock()
            .map_err(|_| Error::cuda("cuda", "module table poisoned"))?;
        if let Some(&f) = h.functions.get(kernel) {
            return Ok(f);
        }
        let (src, mut image) = self.cache.image_for(kernel, self.arch)?;
        let module = match h.modules.get(&src.hash) {
            Some(&m) => m,
            None => {
                if !image.is_cubin {
                    image.bytes.push(0); // PTX must be NUL-terminated for cuModuleLoadData
                }
                // SAFETY: a CUBIN or NUL-terminated PTX image produced by NVRTC.
                let m = unsafe { result::module::load_data(image.bytes.as_ptr() as *const c_void) }
                    .map_err(|e| driver_err(format!("loading kernels/{}", src.file), e))?;
                h.modules.insert(src.hash, m);
                m
            }
        };
        let name = CString::new(kernel).map_err(|_| Error::cuda(kernel.to_string(), "bad kernel name"))?;
        // SAFETY: `module` is loaded and never unloaded.
        let f = unsafe { result::module::get_function(module, name) }
            .map_err(|e| driver_err(format!("{kernel} in kernels/{}", src.file), e))?;
        h.functions.insert(kernel.to_string(), f);
        Ok(f)
    }
}

impl KernelLauncher for CudaDriver {
    fn device(&self) -> Device {
        Device::Cuda(self.ordinal)
    }

    fn alloc(&self, bytes: usize) -> Result<DevicePtr> {
        self.make_current()?;
        // SAFETY: the context is current.
        match unsafe { result::malloc_sync(bytes.max(1)) } {
            Ok(p) => Ok(p as DevicePtr),
            Err(e) if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => {
                let (free, total) = result::mem_get_info().unwrap_or((0, 0));
                Err(Error::cuda(
                    format!("cuda:{}", self.ordinal),
                    format!("out of memory: requested {bytes} bytes, {free} free of {total}"),
                ))
            }
            Err(e) => Err(driver_err("cuMemAlloc", e)),
        }
    }

    fn free(&self, ptr: DevicePtr) {
        if self.make_current().is_ok() {
            // SAFETY: `ptr` came from alloc and is freed once (DeviceBuffer::drop).
            let _ = unsafe { result::free_sync(ptr as sys::CUdeviceptr) };
        }
    }

    fn copy_to_device(&self, dst: DevicePtr, src: &[u8]) -> Result<()> {
        self.make_current()?;
        // SAFETY: dst is a live allocation of at least src.len() bytes (DeviceBuffer).
        unsafe { result::memcpy_htod_sync(dst as sys::CUdeviceptr, src) }.map_err(|e| driver_err("cuMemcpyHtoD", e))
    }

    fn copy_to_host(&self, src: DevicePtr, dst: &mut [u8]) -> Result<()> {
        self.make_current()?;
        // SAFETY: src is a live allocation of at least dst.len() bytes (DeviceBuffer).
        unsafe { result::memcpy_dtoh_sync(dst, src as sys::CUdeviceptr) }.map_err(|e| driver_err("cuMemcpyDtoH", e))
    }

    unsafe fn launch(&self, kernel: &str, cfg: &LaunchConfig, params: &[u8]) -> Result<()> {
        self.make_current()?;
        let f = self.function(kernel)?;
        // The kernel's only argument is the parameter struct: the driver copies its bytes.
        let mut args = [params.as_ptr() as *mut c_void];
        let [gx, gy, gz] = cfg.grid;
        let [bx, by, bz] = cfg.block;
        result::launch_kernel(
            f,
            (gx, gy, gz),
            (bx, by, bz),
            cfg.shared_bytes,
            std::ptr::null_mut(),
            &mut args,
        )
        .map_err(|e| driver_err(format!("launching {kernel}"), e))?;
        result::ctx::synchronize().map_err(|e| driver_err(format!("running {kernel}"), e))
    }

    fn time_on_device(&self, work: &mut dyn FnMut() -> Result<()>) -> Result<Option<f64>> {
        self.make_current()?;
        let flags = sys::CUevent_flags::CU_EVENT_DEFAULT;
        let start = result::event::create(flags).map_err(|e| driver_err("cuEventCreate", e))?;
        let end = match result::event::create(flags) {
            Ok(end) => end,
            Err(e) => {
                // SAFETY: `start` was created above and is destroyed once.
                let _ = unsafe { result::event::destroy(start) };
                return Err(driver_err("cuEventCreate", e));
            }
        };
        // Kernels launch on the legacy default stream (null), so the events are recorded there.
        let null = std::ptr::null_mut();
        // SAFETY: both events are live until destroyed below; the stream is the default one.
        let measured = unsafe {
            (|| {
                result::event::record(start, null).map_err(|e| driver_err("cuEventRecord", e))?;
                work()?;
                self.make_current()?;
                result::event::record(end, null).map_err(|e| driver_err("cuEventRecord", e))?;
                result::event::synchronize(end).map_err(|e| driver_err("cuEventSynchronize", e))?;
                result::event::elapsed(start, end).map_err(|e| driver_err("cuEventElapsedTime", e))
            })()
        };
        // SAFETY: created above, destroyed once each.
        unsafe {
            let _ = result::event::destroy(start);
            let _ = result::event::destroy(end);
        }
        Ok(Some(measured? as f64))
    }
}

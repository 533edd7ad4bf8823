//! Compiled kernel modules, filled lazily: the first launch of any entry point of a file
//! compiles that whole file for the device's exact architecture (CUBIN through
//! nvrtcGetCUBIN, which sidesteps PTX-JIT version limits of the driver) and falls back to PTX
//! for compute_XY when NVRTC cannot target that sm. Keyed by (file hash, arch).

use std::collections::HashMap;
use std::sync::Mutex;

use super::nvrtc::{self, Output};
use super::registry::{self, KernelSource};
use crate::error::{Error, Result};

/// What the driver loads: a CUBIN, or NUL-terminated PTX text.
#[derive(Clone, Debug)]
pub struct Image {
    pub bytes: Vec<u8>,
    pub is_cubin: bool,
}

/// Compiles `src` for compute capability (major, minor).
pub fn compile_for(src: &KernelSource, arch: (i32, i32)) -> Result<Image> {
    let sm = format!("sm_{}{}", arch.0, arch.1);
    match nvrtc::compile(src, &nvrtc::base_options(&sm), Output::Cubin) {
        Ok(c) => Ok(Image {
            bytes: c.code,
            is_cubin: true,
        }),
        Err(cubin_err) => {
            let compute = format!("compute_{}{}", arch.0, arch.1);
            match nvrtc::compile(src, &nvrtc::base_options(&compute), Output::Ptx) {
                Ok(c) => Ok(Image {
                    bytes: c.code,
                    is_cubin: false,
                }),
                // A source error fails both ways; report the CUBIN attempt, which has the log.
                Err(_) => Err(cubin_err),
            }
        }
    }
}

/// (file hash, (major, minor) compute capability).
type Key = (u64, (i32, i32));

/// Images already compiled in this process, by (file hash, arch).
#[derive(Default)]
pub struct ModuleCache {
    images: Mutex<HashMap<Key, Image>>,
}

impl ModuleCache {
    /// The image of the file defining `kernel`, compiled on first use.
    pub fn image_for(&self, kernel: &str, arch: (i32, i32)) -> Result<(&'static KernelSource, Image)> {
        let src = registry::source_of(kernel)
            .ok_or_else(|| Error::cuda(kernel.to_string(), "no kernels/*.cu defines this entry point"))?;
        let key = (src.hash, arch);
        if let Some(img) = self.lock()?.get(&key) {
            return Ok((src, img.clone()));
        }
        // Compile outside the lock: another thread compiling the same file only wastes time.
        let img = compile_for(src, arch)?;
        self.lock()?.insert(key, img.clone());
        Ok((src, img))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Key, Image>>> {
        self.images
            .lock()
            .map_err(|_| Error::cuda("module cache", "lock poisoned"))
    }
}

//! Run-time compilation of one kernel file with NVRTC (through cudarc's raw bindings, which
//! let us pass the embedded headers). Used by the module cache (CUBIN for the device's exact
//! sm_XY, PTX as fallback) and by the layer-1 compile test.

use std::ffi::{c_char, c_int, CString};
use std::sync::OnceLock;

use cudarc::nvrtc::sys;

use super::registry::{KernelSource, HEADERS};
use crate::error::{Error, Result};

/// Environment variable naming libnvrtc.so.13 (set by scripts/install-nvrtc.sh's output).
pub const NVRTC_LIB_ENV: &str = "STSM_NVRTC_LIB";

/// Makes libnvrtc loadable: if STSM_NVRTC_LIB names a file, it is opened by path first, so
/// cudarc's later open by soname finds the already-loaded library. Then checks presence —
/// cudarc panics rather than erring when the library is missing.
pub fn ensure_loaded() -> Result<()> {
    static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            if let Some(path) = std::env::var_os(NVRTC_LIB_ENV) {
                let path = std::path::PathBuf::from(path);
                // NVRTC opens libnvrtc-builtins by soname at compile time; it sits beside
                // libnvrtc in the wheel, outside the loader's search path, so load it first.
                let dir = path.parent().map(|d| d.to_path_buf()).unwrap_or_default();
                let builtins = std::fs::read_dir(&dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        let name = p
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        name.starts_with("libnvrtc-builtins.so")
                    });
                for lib in builtins.chain(std::iter::once(path.clone())) {
                    // SAFETY: loading NVRTC runs only its own initialisers; the handle is
                    // leaked on purpose so the library stays mapped for the process lifetime.
                    let handle = unsafe { libloading::Library::new(&lib) }
                        .map_err(|e| format!("{NVRTC_LIB_ENV}: {}: {e}", lib.display()))?;
                    std::mem::forget(handle);
                }
            }
            // SAFETY: only probes dlopen on candidate names.
            if unsafe { sys::is_culib_present() } {
                Ok(())
            } else {
                Err(format!(
                    "libnvrtc not found; run scripts/install-nvrtc.sh and export the {NVRTC_LIB_ENV} it prints"
                ))
            }
        })
        .clone()
        .map_err(|msg| Error::cuda("nvrtc", msg))
}

/// What NVRTC produced: code (PTX text or CUBIN bytes) and the compiler log.
pub struct Compiled {
    pub code: Vec<u8>,
    pub log: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Ptx,
    Cubin,
}

/// NVRTC's (major, minor) version.
pub fn version() -> Result<(i32, i32)> {
    ensure_loaded()?;
    let (mut major, mut minor): (c_int, c_int) = (0, 0);
    // SAFETY: two valid out-pointers.
    check("nvrtcVersion", unsafe { sys::nvrtcVersion(&mut major, &mut minor) })?;
    Ok((major, minor))
}

fn check(what: &str, r: sys::nvrtcResult) -> Result<()> {
    if r == sys::nvrtcResult::NVRTC_SUCCESS {
        Ok(())
    } else {
        Err(Error::cuda("nvrtc", format!("{what} failed: {r:?}")))
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::cuda("nvrtc", "interior NUL in a kernel source or option"))
}

/// Compiles `src` with `options` (e.g. `--gpu-architecture=sm_90`). A compile error becomes
/// an `Error::Cuda` naming the kernel file and carrying NVRTC's log.
pub fn compile(src: &KernelSource, options: &[String], output: Output) -> Result<Compiled> {
    ensure_loaded()?;
    let source = cstring(src.source)?;
    let name = cstring(src.file)?;
    let header_src = HEADERS.iter().map(|(_, s)| cstring(s)).collect::<Result<Vec<_>>>()?;
    let header_names = HEADERS.iter().map(|(n, _)| cstring(n)).collect::<Result<Vec<_>>>()?;
    let header_src_ptrs: Vec<*const c_char> = header_src.iter().map(|s| s.as_ptr()).collect();
    let header_name_ptrs: Vec<*const c_char> = header_names.iter().map(|s| s.as_ptr()).collect();
    let opts = options.iter().map(|o| cstring(o)).collect::<Result<Vec<_>>>()?;
    let opt_ptrs: Vec<*const c_char> = opts.iter().map(|s| s.as_ptr()).collect();
    let mut prog: sys::nvrtcProgram = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live CString above, counts match the arrays, and the
    // program is destroyed before they are dropped.
    unsafe {
        check(
            "nvrtcCreateProgram",
            sys::nvrtcCreateProgram(
                &mut prog,
                source.as_ptr(),
                name.as_ptr(),
                HEADERS.len() as c_int,
                header_src_ptrs.as_ptr(),
                header_name_ptrs.as_ptr(),
            ),
        )?;
        let compiled = sys::nvrtcCompileProgram(prog, opt_ptrs.len() as c_int, opt_ptrs.as_ptr());
        let log = program_log(prog);
        let result = if compiled != sys::nvrtcResult::NVRTC_SUCCESS {
            Err(Error::cuda(
                format!("compiling kernels/{} (hash {:016x})", src.file, src.hash),
                format!("{compiled:?} with options {options:?}\n{log}"),
            ))
        } else {
            code(prog, output).map(|code| Compiled { code, log })
        };
        sys::nvrtcDestroyProgram(&mut prog);
        result
    }
}

/// # Safety
/// `prog` must be a live program.
unsafe fn program_log(prog: sys::nvrtcProgram) -> String {
    let mut size = 0usize;
    if sys::nvrtcGetProgramLogSize(prog, &mut size) != sys::nvrtcResult::NVRTC_SUCCESS {
        return String::from("(no log)");
    }
    let mut buf = vec![0u8; size];
    if sys::nvrtcGetProgramLog(prog, buf.as_mut_ptr() as *mut c_char) != sys::nvrtcResult::NVRTC_SUCCESS {
        return String::from("(no log)");
    }
    String::from_utf8_lossy(&buf).trim_end_matches('\0').trim().to_string()
}

/// # Safety
/// `prog` must be a live, successfully compiled program.
unsafe fn code(prog: sys::nvrtcProgram, output: Output) -> Result<Vec<u8>> {
    let mut size = 0usize;
    let mut buf;
    match output {
        Output::Ptx => {
            check("nvrtcGetPTXSize", sys::nvrtcGetPTXSize(prog, &mut size))?;
            buf = vec![0u8; size];
            check("nvrtcGetPTX", sys::nvrtcGetPTX(prog, buf.as_mut_ptr() as *mut c_char))?;
        }
        Output::Cubin => {
            check("nvrtcGetCUBINSize", sys::nvrtcGetCUBINSize(prog, &mut size))?;
            buf = vec![0u8; size];
            check(
                "nvrtcGetCUBIN",
                sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr() as *mut c_char),
            )?;
        }
    }
    Ok(buf)
}

/// Options every compile uses: the architecture and C++17. NVRTC has no
/// `-Werror=all-warnings` (nvcc's spelling is rejected as an invalid option), so warnings-as-
/// errors is enforced by the compile test instead: any non-empty NVRTC log fails it.
pub fn base_options(arch: &str) -> Vec<String> {
    vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()]
}

//! The kernel sources embedded at build time (build.rs): every kernels/*.cu with its content
//! hash and entry points, and the headers they include.

/// One kernels/*.cu file.
#[derive(Debug)]
pub struct KernelSource {
    pub file: &'static str,
    pub source: &'static str,
    /// FNV-1a of the file and all headers: the module cache key.
    pub hash: u64,
    /// Its `extern "C" __global__` entry points.
    pub entry_points: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/kernel_registry.rs"));

/// The file that defines entry point `kernel`.
pub fn source_of(kernel: &str) -> Option<&'static KernelSource> {
    SOURCES.iter().find(|s| s.entry_points.contains(&kernel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_file_and_header_is_embedded() {
        let files: Vec<&str> = SOURCES.iter().map(|s| s.file).collect();
        for f in [
            "bf16.cu",
            "conv3d.cu",
            "conv3d_bf16.cu",
            "pool3d.cu",
            "elementwise.cu",
            "dense.cu",
            "temporal.cu",
            "loss.cu",
            "layout.cu",
            "optim.cu",
        ] {
            assert!(files.contains(&f), "{f} missing from {files:?}");
        }
        assert!(HEADERS.iter().any(|(n, _)| *n == "common.cuh"));
        assert_eq!(source_of("conv3d_fwd_f32").map(|s| s.file), Some("conv3d.cu"));
    }

    #[test]
    fn entry_points_follow_the_naming_convention() {
        for s in SOURCES {
            assert!(!s.entry_points.is_empty(), "{} has no entry points", s.file);
            for k in s.entry_points {
                // <op>_<phase>_<dtype>, where a tuned variant may follow the dtype
                // (conv3d_fwd_bf16_128x128: its tile) and a conversion names both dtypes.
                let parts: Vec<&str> = k.split('_').collect();
                assert!(
                    parts.len() >= 3 && parts.iter().any(|p| matches!(*p, "f32" | "f64" | "bf16")),
                    "{k}: <op>_<phase>_<dtype>[_<variant>]"
                );
                assert!(
                    !s.source.contains("extern __shared__"),
                    "{}: use DYNAMIC_SHARED",
                    s.file
                );
                assert!(
                    !s.source.contains("INFINITY"),
                    "{}: NVRTC lacks INFINITY; use stsm_inf",
                    s.file
                );
            }
        }
    }
}

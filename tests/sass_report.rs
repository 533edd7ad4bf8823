//! Layer 1 sees the machine code (src/backend/cuda/sass.rs): NVRTC's sm_90 CUBINs
//! disassembled with the pinned cuobjdump / nvdisasm. Needs STSM_NVRTC_LIB and STSM_SASS_TOOLS
//! (scripts/install-nvrtc.sh, scripts/install-sass-tools.sh; scripts/test.sh runs both).

use std::path::Path;
use std::sync::OnceLock;

use stsm_engine::backend::cuda::nvrtc;
use stsm_engine::backend::cuda::registry::{KernelSource, SOURCES};
use stsm_engine::backend::cuda::sass::{self, KernelReport, Tools};

fn tools() -> Tools {
    nvrtc::ensure_loaded().unwrap_or_else(|e| panic!("{e}"));
    Tools::from_env().unwrap_or_else(|e| panic!("{e}"))
}

fn fixture() -> Vec<KernelReport> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sass/tensor_core_kernels.cu");
    let src = sass::source_from_file(&path).unwrap();
    sass::report_sources(&[src], &tools(), None).unwrap_or_else(|e| panic!("{e}"))
}

/// Every kernels/*.cu, compiled and disassembled once for all tests of this file.
fn kernels() -> &'static [KernelReport] {
    static REPORTS: OnceLock<Vec<KernelReport>> = OnceLock::new();
    REPORTS.get_or_init(|| {
        let sources: Vec<&KernelSource> = SOURCES.iter().collect();
        let reports = sass::report_sources(&sources, &tools(), None).unwrap_or_else(|e| panic!("{e}"));
        for r in &reports {
            eprintln!("{r}");
        }
        reports
    })
}

#[test]
fn the_tensor_core_conv_kernels_use_hmma_ldsm_ldgsts_and_no_local_memory() {
    let problems = sass::tensor_core_problems(kernels(), &sass::TENSOR_CORE_PREFIXES);
    assert!(problems.is_empty(), "{problems:#?}");
    for r in kernels()
        .iter()
        .filter(|r| r.name.starts_with("conv3d_") && r.name.contains("_bf16"))
    {
        eprintln!(
            "{:<30} {}",
            r.name,
            r.main_loop.as_ref().map_or("no loop".into(), |m| m.to_string())
        );
    }
}

#[test]
fn every_kernel_has_a_line_with_its_registers_and_shared_memory() {
    let reports = kernels();
    for src in SOURCES {
        for k in src.entry_points {
            let r = reports
                .iter()
                .find(|r| r.name == *k)
                .unwrap_or_else(|| panic!("no line for {k}"));
            assert!(r.registers > 0 && r.registers <= 255, "{r}");
            assert_eq!(r.spill_bytes, 0, "{r}");
        }
    }
    let line = |name: &str| reports.iter().find(|r| r.name == name).unwrap();
    // The fp32 GEMM conv kernels keep two 32x16 fp32 tiles in static shared memory (4 KiB);
    // the block reductions add one element per warp of 256 threads, requested dynamically.
    assert_eq!(line("conv3d_fwd_f32").smem, 4096);
    assert_eq!(line("log_softmax_fwd_f64").smem, 8 * 8);
    // fp32 kernels run on the ordinary cores: no tensor-core instruction anywhere.
    assert!(reports
        .iter()
        .all(|r| !r.name.ends_with("_f32") || r.hmma + r.ldsm + r.ldgsts == 0));
    let fwd = line("conv3d_fwd_f32").main_loop.as_ref().expect("the GEMM loop");
    assert!(fwd.counts[sass::Class::Float as usize] > 0, "{fwd}");
}

#[test]
fn the_fixture_with_tensor_cores_passes_and_its_local_array_twin_fails() {
    let reports = fixture();
    let clean = reports
        .iter()
        .find(|r| r.name == "conv3d_fwd_bf16_fixture_clean")
        .unwrap();
    let local = reports
        .iter()
        .find(|r| r.name == "conv3d_fwd_bf16_fixture_local")
        .unwrap();
    eprintln!("{clean}\n{local}");
    assert!(
        clean.hmma == 1 && clean.ldsm == 1 && clean.ldgsts == 1 && clean.ldl + clean.stl == 0,
        "{clean}"
    );
    assert!(local.ldl > 0 && local.stl > 0, "{local}");
    let only = |name: &str| -> Vec<KernelReport> { reports.iter().filter(|r| r.name == name).cloned().collect() };
    assert!(sass::tensor_core_problems(&only(&clean.name), &["conv3d_fwd_bf16"]).is_empty());
    let problems = sass::tensor_core_problems(&only(&local.name), &["conv3d_fwd_bf16"]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("local memory (LDL/STL): conv3d_fwd_bf16_fixture_local"),
        "{problems:?}"
    );
    // A required kernel that no file defines fails the check too.
    let missing = sass::tensor_core_problems(&reports, &["conv3d_fwd_bf16", "conv3d_xbwd_bf16"]);
    assert!(
        missing.contains(&"no kernel named conv3d_xbwd_bf16*".to_string()),
        "{missing:?}"
    );
}

//! Layer 1 of kernel verification (DESIGN.md): every kernels/*.cu compiled by the real NVRTC
//! for compute_80 and compute_90 with warnings as errors, and for sm_90 through ptxas with
//! `-v`: no register spills, static shared memory within 48 KiB per block.
//! Needs STSM_NVRTC_LIB (run scripts/install-nvrtc.sh; scripts/test.sh does).

use stsm_engine::backend::cuda::module_cache::ModuleCache;
use stsm_engine::backend::cuda::nvrtc::{self, Output, NVRTC_LIB_ENV};
use stsm_engine::backend::cuda::registry::{KernelSource, SOURCES};

fn require_nvrtc() {
    if std::env::var_os(NVRTC_LIB_ENV).is_none() {
        panic!(
            "{NVRTC_LIB_ENV} is unset: run scripts/install-nvrtc.sh and export the {NVRTC_LIB_ENV}=... line it prints"
        );
    }
    nvrtc::ensure_loaded().unwrap();
}

#[test]
fn nvrtc_is_the_pinned_13_0() {
    require_nvrtc();
    // The GPU machines' driver (580) accepts PTX from NVRTC 13.0 but not from later minors.
    assert_eq!(nvrtc::version().unwrap(), (13, 0));
}

#[test]
fn every_kernel_compiles_to_ptx_for_compute_80_and_90_without_warnings() {
    require_nvrtc();
    for arch in ["compute_80", "compute_90"] {
        for src in SOURCES {
            let out = nvrtc::compile(src, &nvrtc::base_options(arch), Output::Ptx).unwrap_or_else(|e| panic!("{e}"));
            let ptx = String::from_utf8_lossy(&out.code);
            for k in src.entry_points {
                assert!(
                    ptx.contains(&format!(".entry {k}(")),
                    "{arch} {}: no .entry {k}",
                    src.file
                );
            }
            assert!(out.log.is_empty(), "{arch} {}: unexpected log:\n{}", src.file, out.log);
        }
    }
}

/// (kernel, spill stores + loads, static shared bytes) from ptxas' verbose log.
fn ptxas_report(log: &str) -> Vec<(String, u64, u64)> {
    let mut rows: Vec<(String, u64, u64)> = Vec::new();
    let number_before = |line: &str, unit: &str| -> Option<u64> {
        let at = line.find(unit)?;
        line[..at].split_whitespace().last()?.parse().ok()
    };
    for line in log.lines() {
        if line.contains("registers") {
            eprintln!("{line}");
        }
        if let Some(at) = line.find("Compiling entry function '") {
            let rest = &line[at + "Compiling entry function '".len()..];
            rows.push((rest[..rest.find('\'').unwrap_or(rest.len())].to_string(), 0, 0));
        } else if let Some(row) = rows.last_mut() {
            if let Some(s) = number_before(line, "bytes spill stores") {
                row.1 += s + number_before(line, "bytes spill loads").unwrap_or(0);
            }
            if let Some(s) = number_before(line, "bytes smem") {
                row.2 = s;
            }
        }
    }
    rows
}

#[test]
fn sm_90_cubins_have_no_spills_and_fit_static_shared_memory() {
    require_nvrtc();
    for src in SOURCES {
        let mut opts = nvrtc::base_options("sm_90");
        opts.push("--ptxas-options=-v".into());
        let out = nvrtc::compile(src, &opts, Output::Cubin).unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.code.is_empty());
        let report = ptxas_report(&out.log);
        let named: Vec<&str> = report.iter().map(|r| r.0.as_str()).collect();
        for k in src.entry_points {
            assert!(
                named.contains(k),
                "{}: ptxas said nothing about {k}:\n{}",
                src.file,
                out.log
            );
        }
        for (k, spills, smem) in &report {
            eprintln!("sm_90 {k}: {spills} spill bytes, {smem} bytes static smem");
            assert_eq!(*spills, 0, "{k} spills registers:\n{}", out.log);
            assert!(*smem <= 48 * 1024, "{k} uses {smem} bytes of static shared memory");
        }
    }
}

#[test]
fn a_compile_error_names_the_kernel_file_and_carries_the_log() {
    require_nvrtc();
    let bad = KernelSource {
        file: "broken.cu",
        source: "#include \"common.cuh\"\nextern \"C\" __global__ void broken_f32(int n) { int x = ; }\n",
        hash: 0xb0,
        entry_points: &["broken_f32"],
    };
    let err = nvrtc::compile(&bad, &nvrtc::base_options("compute_90"), Output::Ptx)
        .err()
        .expect("must fail")
        .to_string();
    assert!(
        err.contains("kernels/broken.cu") && err.contains("expected an expression"),
        "{err}"
    );
}

#[test]
fn the_module_cache_compiles_a_cubin_for_the_exact_arch_once() {
    require_nvrtc();
    let cache = ModuleCache::default();
    let (src, first) = cache.image_for("relu_fwd_f32", (9, 0)).unwrap();
    assert_eq!(src.file, "elementwise.cu");
    assert!(first.is_cubin, "sm_90 should compile to a CUBIN");
    assert_eq!(&first.bytes[..4], b"\x7fELF", "a CUBIN is an ELF image");
    let (_, again) = cache.image_for("add_fwd_f32", (9, 0)).unwrap();
    assert_eq!(again.bytes, first.bytes, "same file and arch: the cached image");
    assert!(cache
        .image_for("no_such_kernel_f32", (9, 0))
        .unwrap_err()
        .to_string()
        .contains("no kernels/*.cu"));
}

/// kernels/mma.cuh's inline PTX, through the emulator's self-test kernels of the primitives
/// (the same source the emulator runs): compute_80/compute_90 PTX without warnings that holds
/// each instruction, and an sm_90 CUBIN through ptxas without spills.
#[test]
fn the_tensor_core_primitives_compile_to_their_ptx_instructions() {
    require_nvrtc();
    const FILE: &str = "mma_selftest.cu";
    let src = KernelSource {
        file: FILE,
        source: include_str!("../src/backend/cuda/emu/mma_selftest.cu"),
        hash: 0x33a,
        entry_points: &[],
    };
    for arch in ["compute_80", "compute_90"] {
        let out = nvrtc::compile(&src, &nvrtc::base_options(arch), Output::Ptx).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.log.is_empty(), "{arch} {FILE}: unexpected log:\n{}", out.log);
        let ptx = String::from_utf8_lossy(&out.code);
        for insn in [
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
            "ldmatrix.sync.aligned.m8n8.x1.shared.b16",
            "ldmatrix.sync.aligned.m8n8.x2.shared.b16",
            "ldmatrix.sync.aligned.m8n8.x4.shared.b16",
            "ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16",
            "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16",
            "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16",
            "cp.async.cg.shared.global",
            "cp.async.commit_group",
            "cp.async.wait_group 0",
            "cp.async.wait_group 1",
        ] {
            assert!(ptx.contains(insn), "{arch}: no {insn} in the PTX");
        }
        assert!(
            ptx.contains(".entry emu_selftest_mma_ldmatrix_bf16("),
            "{arch}: entry missing"
        );
    }
    let mut opts = nvrtc::base_options("sm_90");
    opts.push("--ptxas-options=-v".into());
    let out = nvrtc::compile(&src, &opts, Output::Cubin).unwrap_or_else(|e| panic!("{e}"));
    let report = ptxas_report(&out.log);
    assert!(
        report.iter().any(|r| r.0 == "emu_selftest_mma_ldmatrix_bf16"),
        "{}",
        out.log
    );
    for (k, spills, _) in &report {
        assert_eq!(*spills, 0, "{k} spills registers:\n{}", out.log);
    }
}

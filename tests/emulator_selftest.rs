//! Tests of the CUDA emulator itself: shared memory starts as garbage, warp and block
//! reductions work, a divergent __syncthreads and a barrier deadlock are reported as errors.
#![cfg(feature = "cuda-emulation")]

use std::sync::Arc;

use stsm_engine::backend::cuda::device;
use stsm_engine::backend::cuda::emulator::{
    sanitized, set_watchdog_secs, static_shared_bytes, thread_sanitized, Emulator,
};
use stsm_engine::backend::cuda::launcher::{KernelLauncher, LaunchConfig};
use stsm_engine::backend::cuda::params::{as_bytes, ElementwiseParams};
use stsm_engine::tensor::{CpuStorage, DType};

fn launcher() -> Arc<dyn KernelLauncher> {
    Arc::new(Emulator::new(false))
}

/// Runs a self-test kernel over `a` with an output of `out_len` floats.
fn run(kernel: &str, cfg: LaunchConfig, a: &[f32], out_len: usize) -> Result<Vec<f32>, String> {
    let l = launcher();
    let a = device::upload(&CpuStorage::F32(a.to_vec()), &l).unwrap();
    let out = device::alloc(&l, DType::F32, out_len).unwrap();
    let p = ElementwiseParams::<f32> {
        a: a.buffer.ptr(),
        out: out.buffer.ptr(),
        n: a.len as i64,
        ..Default::default()
    };
    // SAFETY: a and out are live allocations sized for what the self-test kernels touch.
    unsafe { l.launch(kernel, &cfg, as_bytes(&p)) }.map_err(|e| e.to_string())?;
    match device::download(&out).unwrap() {
        CpuStorage::F32(v) => Ok(v),
        _ => unreachable!(),
    }
}

#[test]
fn shared_memory_starts_as_nan_in_every_block() {
    assert!(
        static_shared_bytes() > 0,
        "the stsm_shared section was not found: no garbage fill"
    );
    let out = run(
        "emu_selftest_shared_garbage_f32",
        LaunchConfig::linear(2, 64, 64 * 4),
        &[0.0],
        128,
    )
    .unwrap();
    assert!(
        out.iter().all(|v| v.is_nan()),
        "unwritten shared memory read as {out:?}"
    );
}

#[test]
fn warp_and_block_reductions() {
    let a: Vec<f32> = (0..96).map(|i| i as f32).collect();
    let out = run(
        "emu_selftest_reductions_f32",
        LaunchConfig::linear(1, 96, 3 * 4),
        &a,
        192,
    )
    .unwrap();
    for i in 0..96 {
        let w = (i / 32) * 32;
        let warp: f32 = (w..w + 32).map(|j| j as f32).sum();
        assert_eq!(out[i], warp, "warp sum at {i}");
        assert_eq!(out[96 + i], (0..96).sum::<i32>() as f32, "block sum at {i}");
    }
}

#[test]
fn a_divergent_syncthreads_is_reported() {
    let err = run(
        "emu_selftest_divergent_sync_f32",
        LaunchConfig::linear(1, 64, 0),
        &[0.0],
        64,
    )
    .unwrap_err();
    assert!(err.contains("divergent barrier") && err.contains("63 of 64"), "{err}");
}

#[test]
fn a_barrier_deadlock_is_reported_by_the_watchdog() {
    set_watchdog_secs(1.0);
    let err = run("emu_selftest_deadlock_f32", LaunchConfig::linear(1, 32, 0), &[0.0], 32).unwrap_err();
    set_watchdog_secs(30.0);
    assert!(err.contains("deadlock"), "{err}");
}

/// In a sanitized build (scripts/emu-sanitize.sh), a shared-memory index one past the end must
/// be reported (by UBSan's bounds check or ASan). The sanitizers abort the process, so the
/// kernel runs in a child:
/// this same test binary, re-entered through an environment variable.
#[test]
fn sanitizers_catch_a_shared_memory_overflow() {
    const CHILD: &str = "STSM_EMU_SELFTEST_OVERFLOW_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let _ = run(
            "emu_selftest_shared_overflow_f32",
            LaunchConfig::linear(1, 32, 0),
            &[0.0],
            32,
        );
        return;
    }
    if !sanitized() {
        eprintln!("SKIP: not a sanitized build (run scripts/emu-sanitize.sh)");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sanitizers_catch_a_shared_memory_overflow",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the overflowing kernel ran clean under ASan");
    // UBSan's bounds check sees the constant-size array first; ASan's redzone around the
    // stsm_shared section catches overflows through pointers. Either report will do.
    let caught = stderr.contains("global-buffer-overflow") || stderr.contains("out of bounds for type 'float [32]'");
    assert!(caught, "{stderr}");
}

/// In a ThreadSanitizer build (scripts/emu-sanitize.sh --thread), a kernel missing a
/// __syncthreads between writing and reading shared memory must be reported as a data race.
#[test]
fn tsan_catches_a_missing_syncthreads() {
    const CHILD: &str = "STSM_EMU_SELFTEST_RACE_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let _ = run(
            "emu_selftest_missing_sync_f32",
            LaunchConfig::linear(1, 64, 0),
            &[1.0],
            64,
        );
        return;
    }
    if !thread_sanitized() {
        eprintln!("SKIP: not a ThreadSanitizer build (run scripts/emu-sanitize.sh --thread)");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tsan_catches_a_missing_syncthreads",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("TSAN_OPTIONS", "exitcode=0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kernel_race = stderr
        .split("WARNING: ThreadSanitizer: data race")
        .skip(1)
        .any(|r| r.lines().take(4).any(|l| l.contains("emu_selftest_missing_sync_f32")));
    assert!(kernel_race, "no race reported in the kernel:\n{stderr}");
}

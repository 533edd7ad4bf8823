//! Tests of the CUDA emulator itself: shared memory starts as garbage, warp and block
//! reductions work, a divergent __syncthreads and a barrier deadlock are reported as errors;
//! the tensor-core primitives of kernels/mma.cuh (mma, ldmatrix, cp.async, bank-conflict
//! counts) against hand-worked and CPU-computed values.
#![cfg(feature = "cuda-emulation")]

use std::sync::Arc;

use stsm_engine::backend::cuda::device;
use stsm_engine::backend::cuda::emulator::{
    bank_conflicts, sanitized, static_shared_bytes, thread_sanitized, BankConflicts, Emulator, SharedAccessCounts,
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

/// Half a warp at __syncthreads, the other half in a shuffle: no thread can proceed, which the
/// scheduler sees at once (no timeout involved).
#[test]
fn a_barrier_deadlock_is_reported() {
    let err = run("emu_selftest_deadlock_f32", LaunchConfig::linear(1, 32, 0), &[0.0], 32).unwrap_err();
    assert!(err.contains("deadlock"), "{err}");
    assert!(
        err.contains("16 of 32 threads wait at __syncthreads, 16 at warp-collective operations"),
        "{err}"
    );
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

/// Runs a self-test kernel on raw buffers: p.a = `a`, p.b = `b`, p.out = `out` (uploaded, then
/// read back), p.n = `n`.
fn run_bytes(kernel: &str, cfg: LaunchConfig, a: &[u8], b: &[u8], out: &[u8], n: i64) -> Result<Vec<u8>, String> {
    let l = launcher();
    let upload = |bytes: &[u8]| {
        let ptr = l.alloc(bytes.len().max(1)).unwrap();
        l.copy_to_device(ptr, bytes).unwrap();
        ptr
    };
    let (pa, pb, pout) = (upload(a), upload(b), upload(out));
    let p = ElementwiseParams::<f32> {
        a: pa,
        b: pb,
        out: pout,
        n,
        ..Default::default()
    };
    // SAFETY: the buffers are live allocations sized for what the self-test kernels touch.
    let r = unsafe { l.launch(kernel, &cfg, as_bytes(&p)) }.map_err(|e| e.to_string());
    let mut back = vec![0u8; out.len()];
    l.copy_to_host(pout, &mut back).unwrap();
    for ptr in [pa, pb, pout] {
        l.free(ptr);
    }
    r.map(|_| back)
}

fn u16_bytes(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}
fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A uniform value in [-2, 2).
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
    }
    /// A random bf16 (the upper half of a uniform f32: every such value is exactly a bf16).
    fn bf16(&mut self) -> u16 {
        (self.uniform().to_bits() >> 16) as u16
    }
}

/// D (16, 8) = A (16, K) · B (K, 8) + C with fp32 accumulation in the emulator's documented
/// order (d = c, then k = 0, 1, ...). `b(k, n)` reads B.
fn cpu_mma(a: &[u16], b: impl Fn(usize, usize) -> u16, c: &[f32], k: usize) -> Vec<f32> {
    let mut d = c.to_vec();
    for r in 0..16 {
        for n in 0..8 {
            let mut acc = c[r * 8 + n];
            for kk in 0..k {
                acc += bf16_to_f32(a[r * k + kk]) * bf16_to_f32(b(kk, n));
            }
            d[r * 8 + n] = acc;
        }
    }
    d
}

fn max_abs_diff(x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

/// Random bf16 A (16, 32), B (32, 8) and fp32 C (16, 8).
fn random_mma_inputs(seed: u64) -> (Vec<u16>, Vec<u16>, Vec<f32>) {
    let mut rng = Rng(seed);
    let a: Vec<u16> = (0..16 * 32).map(|_| rng.bf16()).collect();
    let b_kn: Vec<u16> = (0..32 * 8).map(|_| rng.bf16()).collect();
    let c: Vec<f32> = (0..16 * 8).map(|_| rng.uniform()).collect();
    (a, b_kn, c)
}

#[test]
fn emulated_mma_equals_a_cpu_product_on_random_bf16() {
    let (a, b_kn, c) = random_mma_inputs(0x5eed_0001);
    // The kernel reads B column-major: element (k, n) at n·32 + k.
    let b_col: Vec<u16> = (0..8 * 32).map(|i| b_kn[(i % 32) * 8 + i / 32]).collect();
    let want = cpu_mma(&a, |k, n| b_kn[k * 8 + n], &c, 32);
    let got = run_bytes(
        "emu_selftest_mma_global_bf16",
        LaunchConfig::linear(1, 32, 0),
        &u16_bytes(&a),
        &u16_bytes(&b_col),
        &f32_bytes(&c),
        2,
    )
    .unwrap();
    let got: Vec<f32> = words(&got).into_iter().map(f32::from_bits).collect();
    assert_eq!(got, want, "fragments packed by the PTX layout");
    // The same product through cp.async and ldmatrix (B given k-major).
    let via_smem = run_bytes(
        "emu_selftest_mma_ldmatrix_bf16",
        LaunchConfig::linear(1, 32, 0),
        &u16_bytes(&a),
        &u16_bytes(&b_kn),
        &f32_bytes(&c),
        0,
    )
    .unwrap();
    let via_smem: Vec<f32> = words(&via_smem).into_iter().map(f32::from_bits).collect();
    assert_eq!(via_smem, want, "fragments from ldmatrix");
    // And close to the f64 product (bf16 products are exact; only the fp32 sums round).
    for r in 0..16 {
        for n in 0..8 {
            let exact: f64 = c[r * 8 + n] as f64
                + (0..32)
                    .map(|k| bf16_to_f32(a[r * 32 + k]) as f64 * bf16_to_f32(b_kn[k * 8 + n]) as f64)
                    .sum::<f64>();
            assert!(
                (got[r * 8 + n] as f64 - exact).abs() <= 1e-5 * (1.0 + exact.abs()),
                "({r}, {n})"
            );
        }
    }
}

/// A kernel that packs a[1] and a[2] the wrong way round (a planted fragment-layout bug) must
/// not reproduce the CPU product: the check above would fail on it.
#[test]
fn a_planted_fragment_layout_bug_gives_a_wrong_product() {
    let (a, b_kn, c) = random_mma_inputs(0x5eed_0002);
    let b_col: Vec<u16> = (0..8 * 32).map(|i| b_kn[(i % 32) * 8 + i / 32]).collect();
    let want = cpu_mma(&a, |k, n| b_kn[k * 8 + n], &c, 32);
    let got = run_bytes(
        "emu_selftest_mma_global_wrong_layout_bf16",
        LaunchConfig::linear(1, 32, 0),
        &u16_bytes(&a),
        &u16_bytes(&b_col),
        &f32_bytes(&c),
        2,
    )
    .unwrap();
    let got: Vec<f32> = words(&got).into_iter().map(f32::from_bits).collect();
    assert!(max_abs_diff(&got, &want) > 0.1, "the wrong layout went unnoticed");
}

#[test]
fn mma_needs_a_full_warp() {
    let zeros = vec![0u8; 16 * 32 * 2];
    let err = run_bytes(
        "emu_selftest_mma_global_bf16",
        LaunchConfig::linear(1, 16, 0),
        &zeros,
        &zeros,
        &[0u8; 16 * 8 * 4],
        1,
    )
    .unwrap_err();
    assert!(err.contains("full warp"), "{err}");
}

/// Every ldmatrix variant on a tile whose element (r, c) is r·8 + c, against the PTX ISA's
/// description: lane l gets row l/4, columns 2(l%4), 2(l%4)+1 of each matrix, or transposed
/// rows 2(l%4), 2(l%4)+1 of column l/4.
#[test]
fn ldmatrix_follows_the_ptx_fragment_layout() {
    let out = run_bytes(
        "emu_selftest_ldmatrix_probe",
        LaunchConfig::linear(1, 32, 0),
        &[0u8; 4],
        &[0u8; 4],
        &vec![0u8; 32 * 14 * 4],
        0,
    )
    .unwrap();
    let out = words(&out);
    let el = |m: u32, r: u32, c: u32| (m * 8 + r) * 8 + c;
    let plain = |m: u32, l: u32| el(m, l / 4, 2 * (l % 4)) | el(m, l / 4, 2 * (l % 4) + 1) << 16;
    let trans = |m: u32, l: u32| el(m, 2 * (l % 4), l / 4) | el(m, 2 * (l % 4) + 1, l / 4) << 16;
    for l in 0..32u32 {
        let w = &out[14 * l as usize..14 * (l as usize + 1)];
        let want: Vec<u32> = [
            vec![plain(0, l)],
            (0..2).map(|m| plain(m, l)).collect(),
            (0..4).map(|m| plain(m, l)).collect(),
            vec![trans(0, l)],
            (0..2).map(|m| trans(m, l)).collect(),
            (0..4).map(|m| trans(m, l)).collect(),
        ]
        .concat();
        assert_eq!(w, &want[..], "lane {l}");
    }
}

#[test]
fn a_misaligned_ldmatrix_row_is_an_error() {
    let err = run_bytes(
        "emu_selftest_ldmatrix_probe",
        LaunchConfig::linear(1, 32, 0),
        &[0u8; 4],
        &[0u8; 4],
        &vec![0u8; 32 * 14 * 4],
        1,
    )
    .unwrap_err();
    assert!(err.contains("row address of lane 3 not 16-byte aligned"), "{err}");
}

/// 64 threads × two groups of one 16-byte cp.async; thread 5 copies 7 bytes and thread 6
/// none of its first chunk (zero fill).
fn cp_async_case(kernel: &str) -> (Vec<u32>, Vec<u32>, Vec<u32>, Vec<u32>) {
    let a: Vec<f32> = (0..256).map(|i| 1.0 + i as f32).collect();
    let b: Vec<f32> = (0..256).map(|i| -1.0 - i as f32).collect();
    let (a, b) = (f32_bytes(&a), f32_bytes(&b));
    let out = run_bytes(kernel, LaunchConfig::linear(1, 64, 0), &a, &b, &[0u8; 512 * 4], 0).unwrap();
    let mut want1 = a.clone();
    want1[5 * 16 + 7..5 * 16 + 16].fill(0);
    want1[6 * 16..7 * 16].fill(0);
    (words(&out[..1024]), words(&out[1024..]), words(&want1), words(&b))
}

#[test]
fn cp_async_lands_at_its_wait_group_with_zero_fill() {
    let (s1, s2, want1, want2) = cp_async_case("emu_selftest_cp_async_wait_all");
    assert_eq!(s1, want1);
    assert_eq!(s2, want2);
    // wait_group 1: the older group has landed, the newer one still reads as NaN.
    let (s1, s2, want1, _) = cp_async_case("emu_selftest_cp_async_wait_one");
    assert_eq!(s1, want1);
    assert!(s2.iter().all(|&w| f32::from_bits(w).is_nan()), "{s2:?}");
}

/// The planted bug: no cp.async.wait_group before __syncthreads. Everything read is NaN, so a
/// comparison with the source fails.
#[test]
fn a_missing_wait_group_shows_as_nan() {
    let (s1, s2, want1, want2) = cp_async_case("emu_selftest_cp_async_no_wait");
    assert!(s1.iter().chain(&s2).all(|&w| f32::from_bits(w).is_nan()));
    assert_ne!(s1, want1);
    assert_ne!(s2, want2);
}

fn counts(instructions: u64, wavefronts: u64, extra_wavefronts: u64) -> SharedAccessCounts {
    SharedAccessCounts {
        instructions,
        wavefronts,
        extra_wavefronts,
    }
}

/// Hand-worked bank conflicts (32 banks of 4 bytes).
#[test]
fn bank_conflicts_are_counted_per_launch() {
    let src = vec![0u8; 512];
    // Conflict-free, one block: st.b32 to word l (1 wavefront); st.b128 to bytes 16l (four
    // phases of 8 lanes × 16 contiguous bytes: 4 wavefronts); ldmatrix.x4 over rows 144 bytes
    // apart (row r starts at bank 4r mod 32: 8 rows cover all 32 banks, 1 wavefront per
    // matrix); cp.async to bytes 16l (4 wavefronts).
    run_bytes(
        "emu_selftest_banks_conflict_free",
        LaunchConfig::linear(1, 32, 0),
        &src,
        &src,
        &[0u8; 128],
        0,
    )
    .unwrap();
    assert_eq!(
        bank_conflicts("emu_selftest_banks_conflict_free").unwrap(),
        BankConflicts {
            ldmatrix: counts(1, 4, 0),
            cp_async: counts(1, 4, 0),
            st_shared: counts(2, 5, 0),
        }
    );
    // Conflicting, two blocks (so every count doubles): st.b32 to word 2l (lanes l and l+16
    // share a bank: 2 wavefronts) and to word 32l (all in bank 0: 32); ldmatrix.x4 over rows
    // 128 bytes apart (each matrix's 8 rows in banks 0-3: 8 wavefronts × 4 matrices) and
    // ldmatrix.x1 over rows 64 bytes apart (4 rows in banks 0-3, 4 in banks 16-19: 4);
    // cp.async to bytes 128l (8 lanes per phase in banks 0-3: 8 × 4 phases).
    run_bytes(
        "emu_selftest_banks_conflicting",
        LaunchConfig::linear(2, 32, 0),
        &src,
        &src,
        &[0u8; 256],
        0,
    )
    .unwrap();
    let c = bank_conflicts("emu_selftest_banks_conflicting").unwrap();
    assert_eq!(
        c,
        BankConflicts {
            ldmatrix: counts(2 * 2, 2 * (32 + 4), 2 * (28 + 3)),
            cp_async: counts(2, 2 * 32, 2 * 28),
            st_shared: counts(2 * 2, 2 * (2 + 32), 2 * (1 + 31)),
        }
    );
    assert_eq!(c.extra_wavefronts(), 2 * (31 + 28 + 32));
    assert_eq!(bank_conflicts("no_such_kernel"), None);
}

#!/usr/bin/env bash
# Runs the CUDA-emulation suites with the kernels and the emulator compiled under
# AddressSanitizer + UndefinedBehaviorSanitizer (build.rs reads STSM_EMU_SANITIZE). Emulated
# static __shared__ arrays live in the `stsm_shared` section, which -fsanitize-sections
# instruments, so an out-of-bounds shared-memory index is caught like any global overflow;
# -fsanitize=bounds (part of undefined) catches in-array index overflow.
# A separate target directory keeps the normal build untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
export STSM_EMU_SANITIZE=1
# The ASan runtime is linked as an ordinary dependency of a Rust test binary, not first in
# the load order; leak checking is off because the emulator's thread pools and Rust's test
# harness keep allocations alive at exit by design.
export ASAN_OPTIONS="${ASAN_OPTIONS:-verify_asan_link_order=0:detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
cargo test --features cuda-emulation --target-dir target/sanitize \
    --test cuda_emulation --test emulator_selftest --test tiny_net_emulated "$@"

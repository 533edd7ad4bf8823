#!/usr/bin/env bash
# Runs the CUDA-emulation suites with the kernels and the emulator compiled under
# AddressSanitizer + UndefinedBehaviorSanitizer (build.rs reads STSM_EMU_SANITIZE). Emulated
# static __shared__ arrays live in the `stsm_shared` section, which -fsanitize-sections
# instruments, so an out-of-bounds shared-memory index is caught like any global overflow;
# -fsanitize=bounds (part of undefined) catches in-array index overflow.
# With --thread: ThreadSanitizer instead, which finds a missing __syncthreads (a data race
# between the fibers that emulate a block's threads: each is its own TSan fiber, switches carry
# no synchronisation, and only barriers order accesses; src/backend/cuda/emu/fiber.hpp).
# A separate target directory per mode keeps the normal build untouched; CI, which has nothing
# to keep, sets STSM_SANITIZE_TARGET_DIR=target to reuse the compiled dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=address
if [ "${1:-}" = --thread ]; then
    mode=thread
    shift
fi
export STSM_EMU_SANITIZE=$mode
# TSan: Rust's std is not instrumented, so its locks and channels (the test harness, the
# emulator's allocation table) look racy, and suppressions cannot tell those apart from kernel
# races (every emulated thread is created from Rust). So TSan only logs, and the reports
# whose racing accesses happen in kernel or emulator code (kernels/, src/backend/cuda/emu/)
# fail the run afterwards.
tsan_logs="$(pwd)/target/sanitize-thread-logs"
rm -rf "$tsan_logs" && mkdir -p "$tsan_logs"
export TSAN_OPTIONS="${TSAN_OPTIONS:-exitcode=0:log_path=$tsan_logs/tsan}"
# The ASan runtime is linked as an ordinary dependency of a Rust test binary, not first in
# the load order; leak checking is off because the emulator's thread pools and Rust's test
# harness keep allocations alive at exit by design.
export ASAN_OPTIONS="${ASAN_OPTIONS:-verify_asan_link_order=0:detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
status=0
# Not tests/train_device.rs (stage cuda-emu of scripts/test.sh): its training run launches the
# same kernels as these suites, only on bigger shapes and many more times, and already takes
# minutes without a sanitizer.
cargo test --no-fail-fast --features cuda-emulation --target-dir "${STSM_SANITIZE_TARGET_DIR:-target/sanitize-$mode}" \
    --test cuda_emulation --test emulator_selftest --test tiny_net_emulated --test conv3d_bf16_emulated "$@" || status=$?
if [ "$mode" = thread ]; then
    python3 - "$tsan_logs" <<'PY' || status=1
import pathlib, re, sys
kernel_races = 0
for log in sorted(pathlib.Path(sys.argv[1]).glob("tsan*")):
    for report in log.read_text(errors="replace").split("WARNING: ThreadSanitizer:")[1:]:
        # The racing accesses' top frames: the first three frames after each access header.
        frames = []
        for block in re.split(r"\n  (?:Previous )?(?:[Ww]rite|[Rr]ead|[Aa]tomic)[^\n]*\n", report)[1:3]:
            frames += block.splitlines()[:3]
        if any("/kernels/" in f or "/backend/cuda/emu/" in f for f in frames):
            kernel_races += 1
            print("WARNING: ThreadSanitizer:" + report[:3000])
print(f"emu-sanitize: {kernel_races} race(s) in kernel or emulator code", file=sys.stderr)
sys.exit(1 if kernel_races else 0)
PY
fi
exit "$status"

#!/usr/bin/env bash
# The one test command: everything CI checks, in stages, with the time each took.
# Usage: scripts/test.sh        (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

stage_names=()
stage_times=()
stage() {
    local name=$1
    shift
    echo
    echo "=== stage: $name ==="
    local start=$SECONDS
    "$@"
    stage_names+=("$name")
    stage_times+=($((SECONDS - start)))
    echo "=== $name: $((SECONDS - start)) s ==="
}

demo_smoke() {
    # The README's main command, shortened: it must run and the loss must fall.
    local out
    out=$(cargo run --quiet -- demo --steps 40)
    echo "$out"
    echo "$out" | awk '/^step/ { if (!first) first = $4; last = $4 }
        END { if (!(last < first)) { print "demo: loss did not fall (" first " -> " last ")"; exit 1 } }'
}

train_smoke() {
    # The main job, shortened: a few epochs of the quick configuration, end to end (synthetic data
    # generated and packed, sampler phases, validation, checkpoints, pictures, test accuracy).
    local out
    out=$(mktemp -d)
    cargo run --quiet -- train --config configs/quick.toml --epochs 4 --out "$out/run" --quiet
    for f in config.json split.json metrics.jsonl best.safetensors last.safetensors last.json test.json curves.png sampling.png; do
        [ -s "$out/run/$f" ] || { echo "train: $f missing from the run directory"; exit 1; }
    done
    rm -rf "$out"
}

# NVRTC 13.0 from PyPI for the kernel compile test (tests/nvrtc_compile.rs needs STSM_NVRTC_LIB).
eval "$(scripts/install-nvrtc.sh)"

stage "format" cargo fmt --check
# No import cycle between top-level modules, nor inside backend/cpu/fast/ (under a second).
stage "layering" scripts/check-layering.sh
stage "build" cargo build --all-targets --locked
# Lints as errors, for both feature sets (a lint that must stay is allowed where it occurs, with
# a one-line reason).
stage "clippy" cargo clippy --locked --all-targets -- -D warnings
stage "clippy-emu" cargo clippy --locked --all-targets --features cuda-emulation -- -D warnings
stage "tests" cargo test --locked --no-fail-fast
# The CUDA kernels on the CPU emulation of the execution model (kernels/README.md, layer 2), and
# `train` on the emulated device against the CPU (train_device: minutes, the emulator is slow).
stage "cuda-emu" cargo test --locked --no-fail-fast --features cuda-emulation \
    --test cuda_emulation --test emulator_selftest --test tiny_net_emulated --test train_device
stage "demo" demo_smoke
stage "train" train_smoke
# The same suites with the kernels and the emulator under AddressSanitizer + UBSan (last: it
# rebuilds the crate with sanitizer flags in the shared target directory).
stage "cuda-asan" env STSM_SANITIZE_TARGET_DIR=target scripts/emu-sanitize.sh

echo
echo "=== stage times ==="
for i in "${!stage_names[@]}"; do
    printf '%-10s %5d s\n' "${stage_names[$i]}" "${stage_times[$i]}"
done

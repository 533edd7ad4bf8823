#!/usr/bin/env bash
# The GPU bundle's run.sh (scripts/gpu-check.sh build copies this file into the bundle): layer 3
# of kernel verification and the first speed figures, on a GPU machine (H100/H200, driver 580,
# CUDA 13.0, PyTorch at /opt/torch/.venv, no Rust, no network).
#
#   OUT=/some/dir ./run.sh      full logs under $OUT (else under ./logs-<time> beside run.sh)
#
# $OUT receives few files (the device tool returns at most 8): logs.tar.gz (every step's log and
# JSON, refreshed after each step, so a run cut short still leaves its logs), steps.tsv,
# table.txt, and failure.txt when the machine cannot run the bundle.
#
# Steps, each under `timeout` and all within one budget (default 450 s, STSM_GPU_BUDGET_S):
#  1. every kernel test binary against the CPU reference (tests/*; a "SKIP: no CUDA device"
#     counts as a failure on a machine that must have a GPU);
#  2. per batch (16, 32): `stsm-engine bench --device cuda --precision bf16|fp32 --batch N` on the
#     C3D conv layers, forward and forward + backward, then scripts/torch_gpu_layers.py timing the
#     same workloads with PyTorch + cuDNN on the same card (CUDA events on both sides);
#  3. the table (scripts/gpu_table.py): steps, then per layer engine/PyTorch throughput ratios,
#     TFLOP/s and the floors against 798 TFLOP/s (bf16 matrix product), ~660 TFLOP/s (mma.sync)
#     and 3.0 TB/s. It is printed last: the device tool returns only the output's tail.
# Without a GPU it stops at once with a one-line reason.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-}"
[ -n "$out" ] || out="$here/logs-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$out" 2>/dev/null || { echo "gpu-check: cannot create the log folder $out"; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/stsm-gpu-check.XXXXXX")" || { echo "gpu-check: cannot create a work folder"; exit 1; }
trap 'rm -rf "$work"' EXIT
start=$SECONDS
budget="${STSM_GPU_BUDGET_S:-450}"
steps="$work/steps.tsv"
: >"$steps"

fail() {
    echo "gpu-check: $*" | tee "$out/failure.txt"
    exit 1
}

# Copies the logs so far to $OUT (atomically: a run killed meanwhile keeps the previous copy).
save_logs() {
    tar -czf "$out/.logs.tar.gz" -C "$work" . && mv -f "$out/.logs.tar.gz" "$out/logs.tar.gz"
    cp "$steps" "$out/steps.tsv"
}

# --- the machine ----------------------------------------------------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1; then
    fail "no GPU here (nvidia-smi not found): run this bundle on the GPU machine"
fi
gpu="$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>"$work/nvidia-smi.err" | head -1)"
[ -n "$gpu" ] || fail "nvidia-smi sees no GPU ($(head -c 200 "$work/nvidia-smi.err" | tr '\n' ' '))"

# NVRTC: the system CUDA's, else the nvidia/cu13 wheel libraries beside the machine's PyTorch.
find_nvrtc() {
    local cand
    for cand in /usr/local/cuda/lib64/libnvrtc.so.13 /usr/local/cuda-13*/lib64/libnvrtc.so.13 \
        /usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so.13 \
        "$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so\.13 /{print $NF; exit}')"; do
        if [ -n "$cand" ] && [ -f "$cand" ]; then echo "$cand"; return 0; fi
    done
    for venv in "${STSM_TORCH_VENV:-/opt/torch/.venv}"; do
        cand="$(find "$venv" -path '*site-packages/nvidia/cu13/lib/libnvrtc.so.13' 2>/dev/null | head -1)"
        if [ -n "$cand" ]; then echo "$cand"; return 0; fi
        cand="$(find "$venv" -path '*site-packages/nvidia/*/lib/libnvrtc.so.13' 2>/dev/null | head -1)"
        if [ -n "$cand" ]; then echo "$cand"; return 0; fi
    done
    return 1
}
if [ -n "${STSM_NVRTC_LIB:-}" ] && [ -f "$STSM_NVRTC_LIB" ]; then
    nvrtc="$STSM_NVRTC_LIB"
else
    nvrtc="$(find_nvrtc)" || fail "libnvrtc.so.13 not found in the system CUDA nor under ${STSM_TORCH_VENV:-/opt/torch/.venv} (set STSM_NVRTC_LIB)"
fi
export STSM_NVRTC_LIB="$nvrtc"
python="${STSM_PYTHON:-/opt/torch/.venv/bin/python3}"
[ -x "$python" ] || python="$(command -v python3 || true)"
{
    echo "gpu: $gpu"
    echo "nvrtc: $nvrtc"
    echo "python: $python"
    echo "bundle: $here"
    date -u
} >"$work/machine.txt"

# --- steps ----------------------------------------------------------------------------------
# step NAME LIMIT_S CMD...: runs CMD with stdout+stderr in $work/NAME.log (saved to $OUT after
# the step), under `timeout` of LIMIT_S or what is left until the phase's deadline (seconds since
# start; the last 20 s of the budget are kept for the table), and records NAME, result, seconds
# in steps.tsv.
deadline=$((budget - 20))
step() {
    local name=$1 limit=$2
    shift 2
    local end=$deadline
    [ "$end" -le $((budget - 20)) ] || end=$((budget - 20))
    local left=$((end - (SECONDS - start)))
    if [ "$left" -lt 10 ]; then
        printf '%s\tskipped (no time left)\t0\n' "$name" >>"$steps"
        return 1
    fi
    [ "$limit" -le "$left" ] || limit=$left
    local t0=$SECONDS rc
    timeout --kill-after=10 "$limit" "$@" >"$work/$name.log" 2>&1
    rc=$?
    local result=pass
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        result="timeout (${limit} s)"
    elif [ "$rc" -ne 0 ]; then
        result="FAIL (exit $rc)"
    elif grep -q "SKIP: no CUDA device" "$work/$name.log"; then
        result="FAIL (skipped: no CUDA device)"
        rc=1
    fi
    printf '%s\t%s\t%d\n' "$name" "$result" $((SECONDS - t0)) >>"$steps"
    save_logs
    return "$rc"
}

# 1. Kernels against the CPU reference: the compile test first, the slow training run last;
#    at most 200 s, so that the speed figures always get their turn.
deadline=200
for t in nvrtc_compile gpu_vs_cpu $(cd "$here/tests" && ls | grep -v -x -e nvrtc_compile -e gpu_vs_cpu -e train_device -e gpu_bench | sort) train_device; do
    [ -x "$here/tests/$t" ] || continue
    step "test-$t" 150 "$here/tests/$t" --test-threads=1 --nocapture
done

# 2. The engine and PyTorch on the C3D conv layers, batch by batch on the same card.
deadline=$((budget - 60))
engine="$here/bin/stsm-engine"
for batch in 16 32; do
    "$engine" bench --list --batch "$batch" >"$work/workloads-b$batch.json" 2>>"$work/engine-list.log"
    for precision in bf16 fp32; do
        step "engine-$precision-b$batch" 90 "$engine" bench --device cuda --precision "$precision" \
            --batch "$batch" --repeat 5 --json
        # The JSON object is the log's last lines (after any warnings).
        log="$work/engine-$precision-b$batch.log"
        [ -f "$log" ] && sed -n '/^{/,$p' "$log" >"$work/engine-$precision-b$batch.json"
    done
    step "torch-b$batch" 150 "$python" "$here/scripts/torch_gpu_layers.py" --device cuda \
        --workloads "$work/workloads-b$batch.json" --precision bf16 fp32 --repeat 5 \
        --json "$work/torch-b$batch.json"
done
deadline=$((budget - 20))
step "test-gpu_bench" 60 "$here/tests/gpu_bench" --test-threads=1 --nocapture

# 3. The table, last.
py_table="$python"
[ -x "$py_table" ] || py_table=python3
echo "full logs: $out/logs.tar.gz"
"$py_table" "$here/scripts/gpu_table.py" --gpu "$gpu" --steps "$steps" \
    --workloads "$work"/workloads-b*.json --engine "$work"/engine-*.json --torch "$work"/torch-b*.json \
    | tee "$work/table.txt"
cp "$work/table.txt" "$out/table.txt"
save_logs
echo "gpu-check: $((SECONDS - start)) s in all"
! grep -qv "$(printf '\tpass\t')" "$steps"

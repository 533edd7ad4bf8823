#!/usr/bin/env bash
# Layer 3 of kernel verification: the kernel-vs-CPU tests, the tiny-net acceptance test and a
# short `train` run (tests/train_device.rs: weights vs the CPU run, bit-exact resume) on a real
# GPU. GPU machines have the NVIDIA driver but no Rust toolchain, so the work is split:
#
#   scripts/gpu-check.sh build [DIR]   here: build the test binaries (debug info stripped) into
#                                      DIR (default target/gpu-check); with STSM_BUNDLE_NVRTC=1
#                                      also the pinned NVRTC 13.0 (~115 MB; GPU machines with
#                                      CUDA 13.0 have their own)
#   DIR/run.sh                         there: run them; fails on any failure and on any
#                                      "SKIP: no CUDA device" (a GPU machine must not skip)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:-build}"
out="${2:-$repo/target/gpu-check}"
[ "$cmd" = build ] || { echo "usage: $0 build [DIR]" >&2; exit 2; }

eval "$("$repo/scripts/install-nvrtc.sh")"
cd "$repo"
rm -rf "$out" && mkdir -p "$out/bin" "$out/lib"
# The executables cargo built, read from its JSON messages.
cargo test --no-run --message-format=json --test gpu_vs_cpu --test gpu_bench --test nvrtc_compile --test train_device \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])' \
    | while read -r exe; do
        dst="$out/bin/$(basename "$exe" | sed 's/-[0-9a-f]*$//')"
        cp "$exe" "$dst" && strip --strip-debug "$dst"
    done
if [ "${STSM_BUNDLE_NVRTC:-0}" = 1 ]; then
    cp "$(dirname "$STSM_NVRTC_LIB")"/libnvrtc.so.13 "$(dirname "$STSM_NVRTC_LIB")"/libnvrtc-builtins.so.13.0 "$out/lib/"
fi

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the bundled GPU tests (built by scripts/gpu-check.sh on a development machine).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The bundled NVRTC if there is one, else the machine's CUDA 13.0 installation.
if [ -f "$here/lib/libnvrtc.so.13" ]; then
    export STSM_NVRTC_LIB="$here/lib/libnvrtc.so.13"
else
    for cand in /usr/local/cuda/lib64/libnvrtc.so.13 /usr/local/cuda-13.0/lib64/libnvrtc.so.13 \
        "$(ldconfig -p 2>/dev/null | awk '/libnvrtc.so.13 /{print $NF; exit}')"; do
        if [ -n "$cand" ] && [ -f "$cand" ]; then export STSM_NVRTC_LIB="$cand"; break; fi
    done
fi
echo "NVRTC: ${STSM_NVRTC_LIB:-not found}"
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader || true
status=0
for t in "$here"/bin/*; do
    echo "== $(basename "$t")"
    log="$(mktemp)"
    "$t" --test-threads=1 --nocapture 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    if grep -q "SKIP: no CUDA device" "$log"; then
        echo "gpu-check: $(basename "$t") skipped on a machine that should have a GPU" >&2
        status=1
    fi
    rm -f "$log"
done
[ "$status" -eq 0 ] && echo "gpu-check: all GPU tests passed" || echo "gpu-check: FAILED" >&2
exit "$status"
RUN
chmod +x "$out/run.sh"
echo "gpu-check: bundle in $out ($(du -sh "$out" | cut -f1)); copy it to a GPU machine and run $out/run.sh"

#!/usr/bin/env bash
# Layer 3 of kernel verification and the first speed figures, for a GPU machine that has the
# NVIDIA driver, CUDA 13.0 and PyTorch but no Rust toolchain and no network. The work is split:
#
#   scripts/gpu-check.sh build [DIR]   here: one command makes the bundle in DIR (default
#                                      target/gpu-check), at most 60 MiB:
#                                        bin/stsm-engine     the engine, stripped
#                                        tests/*             the GPU test binaries (every kernel
#                                                            against the CPU reference; bf16 too)
#                                        scripts/            torch_gpu_layers.py, gpu_table.py
#                                        run.sh              scripts/gpu-bundle-run.sh
#   DIR/run.sh                         there: runs it all in under 8 minutes, full logs under
#                                      $OUT, the table last (see scripts/gpu-bundle-run.sh)
#
# NVRTC is not bundled (libnvrtc alone is ~115 MB): run.sh finds the machine's own, in its CUDA
# installation or in the nvidia/cu13 wheel libraries beside its PyTorch.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:-build}"
out="${2:-$repo/target/gpu-check}"
[ "$cmd" = build ] || { echo "usage: $0 build [DIR]" >&2; exit 2; }
limit_mib=60
tests=(gpu_vs_cpu gpu_bf16 nvrtc_compile train_device gpu_bench)

cd "$repo"
test_args=()
for t in "${tests[@]}"; do
    [ -f "tests/$t.rs" ] && test_args+=(--test "$t")
done
# The executables cargo built, read from its JSON messages: "test NAME" or "bin NAME" per line.
artifacts() {
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        kind = "test" if m["profile"]["test"] else "bin"
        print(kind, m["target"]["name"], m["executable"])'
}
built="$(mktemp)"
trap 'rm -f "$built"' EXIT
cargo build --locked --bin stsm-engine --message-format=json | artifacts >"$built"
cargo test --locked --no-run --message-format=json "${test_args[@]}" | artifacts >>"$built"

rm -rf "$out"
mkdir -p "$out/bin" "$out/tests" "$out/scripts"
while read -r kind name exe; do
    if [ "$kind" = bin ]; then
        cp "$exe" "$out/bin/$name" && strip "$out/bin/$name"
    else
        # Symbols kept for readable backtraces; debug info dropped.
        cp "$exe" "$out/tests/$name" && strip --strip-debug "$out/tests/$name"
    fi
done <"$built"
[ -x "$out/bin/stsm-engine" ] || { echo "gpu-check: stsm-engine was not built" >&2; exit 1; }
cp scripts/gpu-bundle-run.sh "$out/run.sh"
cp scripts/torch_gpu_layers.py scripts/gpu_table.py "$out/scripts/"
chmod +x "$out/run.sh"

bytes="$(du -sb "$out" | cut -f1)"
mib="$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
ls -l "$out/bin" "$out/tests"
if [ "$bytes" -gt $((limit_mib * 1048576)) ]; then
    echo "gpu-check: the bundle in $out is $mib MiB, over the $limit_mib MiB limit" >&2
    exit 1
fi
echo "gpu-check: bundle in $out: $mib MiB (limit $limit_mib MiB); on the GPU machine run: OUT=<log dir> $out/run.sh"

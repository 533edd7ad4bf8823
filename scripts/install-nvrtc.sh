#!/usr/bin/env bash
# Installs the NVRTC shared library (and the CUDA runtime headers NVRTC needs for
# cuda_fp16.h and friends) from PyPI into <repo>/.cache/nvrtc, so the layer-1 compile test
# runs on machines without a CUDA toolkit. Pinned to 13.0: the GPU machines' driver (580)
# accepts PTX up to ISA 9.0, which NVRTC 13.0.x emits; 13.5 would emit PTX 9.5.
# Prints the `export STSM_NVRTC_LIB=...` line the tests read.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="$repo/.cache/nvrtc"
lib="$target/nvidia/cu13/lib/libnvrtc.so.13"
if ! ls "$target"/nvidia/*/lib/libnvrtc.so.13 >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --target "$target" \
        "nvidia-cuda-nvrtc==13.0.*" "nvidia-cuda-runtime==13.0.*"
fi
lib="$(ls "$target"/nvidia/*/lib/libnvrtc.so.13 2>/dev/null | head -1)"
if [ -z "$lib" ]; then
    echo "install-nvrtc: libnvrtc.so.13 not found under $target after install" >&2
    exit 1
fi
echo "export STSM_NVRTC_LIB=$lib"

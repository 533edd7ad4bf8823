#!/usr/bin/env bash
# Installs the CUDA disassemblers (cuobjdump, nvdisasm) from PyPI into <repo>/.cache/sass-tools,
# for the SASS report (scripts/sass-report.sh, tests/sass_report.rs). Pinned: 13.2 is the oldest
# 13.x on PyPI (there is no 13.0 wheel); it reads NVRTC 13.0's sm_90 CUBINs. Prints the
# `export STSM_SASS_TOOLS=...` line the report reads.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="$repo/.cache/sass-tools"
version=13.2.86
bin="$target/nvidia/cu13/bin"
if [ ! -x "$bin/cuobjdump" ] || [ ! -x "$bin/nvdisasm" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --target "$target" \
        "nvidia-cuda-cuobjdump==$version" "nvidia-cuda-nvdisasm==$version" >&2
fi
for tool in cuobjdump nvdisasm; do
    if [ ! -x "$bin/$tool" ]; then
        echo "install-sass-tools: $tool not found under $bin after install" >&2
        exit 1
    fi
done
echo "export STSM_SASS_TOOLS=$bin"

#!/usr/bin/env bash
# Layer 1 sees the machine code: one line per kernel of NVRTC's sm_90 CUBINs,
#   NAME regs=R spill=S smem=B HMMA=n LDSM=n LDGSTS=n LDL=n STL=n
# (smem: static + the launcher's dynamic request), from nvdisasm / cuobjdump (PyPI, pinned,
# cached in .cache/sass-tools) and ptxas' -v log.
# Usage: scripts/sass-report.sh [--mix] [--check] [--cubins DIR] [EXTRA.cu ...]
#   --mix    the main-loop instruction mix of each conv3d kernel (innermost loop, by its
#            backward branch): shares of HMMA, fp, loads, stores, integer/address, div/special
#   --check  fail unless conv3d_{fwd,xbwd,wbwd}_bf16* have HMMA, LDSM, LDGSTS > 0 and
#            LDL = STL = spill = 0
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
eval "$("$repo/scripts/install-nvrtc.sh")"
eval "$("$repo/scripts/install-sass-tools.sh")"
cargo build --quiet --manifest-path "$repo/Cargo.toml" --example sass_report
exec "${CARGO_TARGET_DIR:-$repo/target}/debug/examples/sass_report" "$@"

#!/usr/bin/env bash
# Loader throughput (clips/s) from PNG frame folders and from a pack.
# Builds with the test profile (opt-level 3, the dependencies already built for `cargo test`), so
# it needs no separate release build. STSM_BENCH_SYNTH=DIR reuses a `stsm-engine synth` output;
# STSM_BENCH_SECONDS sets the time per measurement (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --bench data_loader -- --run "$@"

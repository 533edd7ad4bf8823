#!/usr/bin/env bash
# The engine against PyTorch (2 threads) on the performance workloads; see scripts/bench_vs_torch.py
# for the options. Builds the engine in release mode (the dev profile keeps overflow checks), installs
# PyTorch into .venv-torch if missing (never in CI), then runs scripts/bench_vs_torch.py.
#   scripts/bench-vs-torch.sh [NAME_FILTER...] [--rounds N] [--repeat N] [--markdown]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CI:-}" ]; then
    echo "bench-vs-torch.sh installs PyTorch (~2.5 GB) and must not run in CI" >&2
    exit 1
fi
cargo build --release --quiet --bin stsm-engine
exec scripts/torch-python.sh scripts/bench_vs_torch.py --engine target/release/stsm-engine "$@"

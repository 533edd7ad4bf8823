#!/usr/bin/env bash
# Compares `stsm-engine predict` with a PyTorch implementation of the reference's test procedure
# (scripts/predict-reference.py). Developer-only: installs PyTorch into .venv-torch if missing;
# never run in CI.   Usage: scripts/predict-reference.sh --compare target/debug/stsm-engine
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CI:-}" ]; then
    echo "predict-reference.sh installs PyTorch (~2.5 GB) and must not run in CI" >&2
    exit 1
fi
if ! .venv-torch/bin/python -c "import torch, PIL" 2>/dev/null; then
    python3 -m venv .venv-torch
    .venv-torch/bin/pip install --quiet torch torchvision numpy
fi
exec .venv-torch/bin/python scripts/predict-reference.py "$@"

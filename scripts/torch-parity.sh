#!/usr/bin/env bash
# Regenerates the full-size PyTorch parity references (never in CI): installs PyTorch and
# torchvision into .venv-torch if missing, then runs scripts/torch-parity.py with the arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CI:-}" ]; then
    echo "torch-parity.sh installs PyTorch (~2.5 GB) and must not run in CI" >&2
    exit 1
fi
if ! .venv-torch/bin/python -c "import torch, torchvision" 2>/dev/null; then
    python3 -m venv .venv-torch
    .venv-torch/bin/pip install --quiet torch torchvision numpy
fi
exec .venv-torch/bin/python scripts/torch-parity.py "$@"

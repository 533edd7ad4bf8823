#!/usr/bin/env bash
# Runs a Python script with PyTorch: creates .venv-torch at the repository root and installs
# torch, torchvision and numpy into it on first use (~2.5 GB; developer machines only, never CI).
#   scripts/torch-python.sh scripts/SOMETHING.py [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CI:-}" ]; then
    echo "$1 needs PyTorch (~2.5 GB), which is never installed in CI" >&2
    exit 1
fi
if ! .venv-torch/bin/python -c "import torch, torchvision, numpy, PIL" 2>/dev/null; then
    python3 -m venv .venv-torch
    .venv-torch/bin/pip install --quiet torch torchvision numpy
fi
exec .venv-torch/bin/python "$@"

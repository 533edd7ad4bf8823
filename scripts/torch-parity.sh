#!/usr/bin/env bash
# Regenerates the full-size PyTorch parity references (never in CI) with scripts/torch-parity.py.
exec "$(dirname "$0")/torch-python.sh" scripts/torch-parity.py "$@"

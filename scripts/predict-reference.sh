#!/usr/bin/env bash
# Compares `stsm-engine predict` with a PyTorch implementation of the reference's test procedure
# (scripts/predict-reference.py); never in CI.
#   scripts/predict-reference.sh --compare target/debug/stsm-engine
exec "$(dirname "$0")/torch-python.sh" scripts/predict-reference.py "$@"

#!/usr/bin/env bash
# Fails on an import cycle between the top-level modules of src/ or inside src/backend/cpu/fast/
# (see scripts/check_layering.py). Usage: scripts/check-layering.sh [--edges]
set -euo pipefail
exec python3 "$(dirname "$0")/check_layering.py" "$@"

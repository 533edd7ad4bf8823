#!/usr/bin/env bash
# Regenerates the PyTorch reference fixtures in tests/fixtures/torch/ (checked by
# tests/torch_fixtures.rs, which needs no PyTorch).
#
# Developer-only: it installs PyTorch (~2.5 GB) into .venv-torch at the repository root on
# first use. Never run it in CI; the committed fixtures are what CI checks.
#
# Usage: scripts/make-torch-fixtures.sh            # rewrite the fixtures
#        scripts/make-torch-fixtures.sh --check    # regenerate in memory, fail if they differ
set -euo pipefail

if [[ -n "${CI:-}" ]]; then
    echo "make-torch-fixtures.sh: refusing to run in CI (it installs PyTorch); the fixtures are committed" >&2
    exit 1
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-torch"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating $venv" >&2
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
    echo "installing torch and numpy into $venv (large download)" >&2
    "$venv/bin/pip" install torch numpy
fi

exec "$venv/bin/python" "$root/scripts/torch_fixtures.py" "$@"

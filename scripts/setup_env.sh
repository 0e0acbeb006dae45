#!/usr/bin/env bash
# Create ./.venv (if missing) and install RISE with every extra.
# TORCH_SPEC picks the torch build: the default is the CPU wheel used on our CI machines;
# any torch >= 2.4 works (e.g. TORCH_SPEC="torch" for the latest CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
# The other dependencies are installed at the versions in scripts/constraints.txt (pinned for
# Python 3.11, where CI runs); RISE_CONSTRAINTS= (empty) resolves them freely within pyproject.toml.
RISE_CONSTRAINTS=${RISE_CONSTRAINTS-scripts/constraints.txt}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install -q "$TORCH_SPEC"
fi
python -m pip install -q -e ".[all,dev]" ${RISE_CONSTRAINTS:+-c "$RISE_CONSTRAINTS"}

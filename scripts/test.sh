#!/usr/bin/env bash
# Set up ./.venv and run the whole test suite (CPU, headless).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
export MUJOCO_GL=${MUJOCO_GL:-egl}
python -m pytest tests "$@"

#!/usr/bin/env bash
# Set up ./.venv and run the main job on the embedded default: the RISE self-improving loop
# (python -m rise_agents.train --algo recap-online) with the bundled warm-up policy, world model and
# initial states; it prints the twin's success and score before and after (~6 min on 2 idle CPU cores).
# --resume makes a second run finish (or reprint) the same run in runs/recap-online_brick_sorting.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
export MUJOCO_GL=${MUJOCO_GL:-egl}
python -m rise_agents.train --algo recap-online --resume "$@"

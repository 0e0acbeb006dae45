#!/usr/bin/env bash
# Set up ./.venv and run the main job on the embedded default.
# Until the self-improving loop lands, the main job drives the MuJoCo twin with the scripted
# expert and writes an mp4 of all three cameras to outputs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
export MUJOCO_GL=${MUJOCO_GL:-egl}
python examples/expert_video.py --out outputs/expert_brick_sorting.mp4 "$@"

"""MuJoCo digital twin of the AgileX dual-arm rig, its tasks and scripted experts.

``MUJOCO_GL`` defaults to ``egl`` (headless) and must be chosen before mujoco is imported.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from rise_agents.envs.sim.brick_sorting import BrickSortingSimEnv  # noqa: E402
from rise_agents.envs.sim.expert import MODES, BrickSortingExpert, ExpertChunk, make_expert  # noqa: E402
from rise_agents.envs.sim.expert_config import (  # noqa: E402
    DEFAULT_PERTURBATION,
    ExpertConfig,
    PerturbationConfig,
)
from rise_agents.envs.sim.task import BrickSortingConfig  # noqa: E402

__all__ = [
    "DEFAULT_PERTURBATION",
    "MODES",
    "BrickSortingConfig",
    "BrickSortingExpert",
    "BrickSortingSimEnv",
    "ExpertChunk",
    "ExpertConfig",
    "PerturbationConfig",
    "make_expert",
]

"""MuJoCo digital twin of the AgileX dual-arm rig, its tasks and scripted experts.

Example (the loop a data collector runs)::

    from rise_agents.envs.sim import BrickSortingSimEnv, make_expert

    env = BrickSortingSimEnv(chunk_size=50, info_frame_hz=30, height=192, width=256)
    obs, info = env.reset(seed=0)
    expert = make_expert(env, mode="demo", seed=0)  # or "rollout" | "correction"
    while True:
        chunk = expert.act(obs)  # chunk.actions (50, 14) float32, chunk.intervention (50,) bool
        obs, reward, terminated, truncated, info = env.step(chunk.actions)
        if terminated or truncated:
            break

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

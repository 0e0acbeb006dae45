"""A tiny synthetic LeRobotDataset v3.0 for tests and docs (seconds to write, no simulator).

Each episode moves the 14 joints along a smooth sinusoid inside the robot's limits; the action of
frame t is the state of frame t+1, and the top camera's brightness encodes the phase, so a policy
can learn the mapping from what it sees to what it does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rise_env.data import DatasetConfig, Episode, LeRobotDatasetWriter
from rise_env.spec.robot import agilex_cobot_magic


def synthetic_episode(rng: np.random.Generator, length: int, height: int, width: int, source: str) -> Episode:
    """One episode of ``length`` frames at ``height × width`` for every camera."""
    robot = agilex_cobot_magic(height, width)
    low, high = robot.action_limits()
    mid, span = (low + high) / 2, (high - low) / 2
    phase0 = rng.uniform(0, 2 * np.pi, 14)
    t = np.arange(length + 1)[:, None] / max(1, length)
    traj = (mid + 0.3 * span * np.sin(2 * np.pi * t + phase0)).astype(np.float32)
    images = {}
    for k, cam in enumerate(robot.camera_keys):
        level = (40 + 170 * t[:-1, 0] + 10 * k).astype(np.uint8)
        frames = np.broadcast_to(level[:, None, None, None], (length, height, width, 3)).copy()
        frames[:, : height // 2, :, k] = 255 - frames[:, : height // 2, :, k]
        images[cam] = frames
    return Episode(
        task="sort the bricks into the bins",
        states=traj[:-1],
        actions=traj[1:],
        images=images,
        source=source,
        success=source != "rollout",
        final_score=10.0 if source != "rollout" else 2.5,
    )


def make_tiny_dataset(
    root: str | Path,
    demos: int = 3,
    rollouts: int = 1,
    length: int = 24,
    height: int = 24,
    width: int = 32,
    seed: int = 0,
) -> Path:
    """Write ``demos`` demo and ``rollouts`` rollout episodes to ``root`` and finalize; returns ``root``."""
    rng = np.random.default_rng(seed)
    writer = LeRobotDatasetWriter(root, DatasetConfig(robot=agilex_cobot_magic(height, width)))
    for i in range(demos + rollouts):
        writer.add_episode(synthetic_episode(rng, length, height, width, "demo" if i < demos else "rollout"))
    writer.finalize()
    return Path(root)

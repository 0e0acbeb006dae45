"""A tiny, *untrained* asset folder for smoke tests and CI: a random 32×32 LeRobot dataset, freshly
initialised ``tiny`` dynamics and value models, built with `rise_env.assets.build`.

Its imagined frames are noise; it only checks that the machinery runs end to end.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

TASK = "sort the bricks by colour"


def write_tiny_dataset(root: str | os.PathLike, episodes: int = 2, length: int = 40, size: int = 32) -> Path:
    """A LeRobotDataset v3.0 of ``episodes`` random episodes (``length`` frames, ``size``² pixels, 3 views)."""
    from rise_env.data import DatasetConfig, Episode, LeRobotDatasetWriter
    from rise_env.spec import agilex_cobot_magic

    robot = agilex_cobot_magic(size, size)
    low, high = robot.action_limits()
    writer = LeRobotDatasetWriter(root, DatasetConfig(robot=robot))
    for e in range(episodes):
        rng = np.random.default_rng(e)
        joints = (low + (high - low) * (0.5 + 0.2 * np.sin(np.linspace(0, 3, length)[:, None] + e))).astype(np.float32)
        images = {c: rng.integers(0, 255, (length, size, size, 3), dtype=np.uint8) for c in robot.camera_keys}
        writer.add_episode(Episode(task=TASK, states=joints, actions=joints, images=images, success=e % 2 == 0))
    writer.finalize()
    return Path(root)


def write_tiny_world_model(directory: str | os.PathLike, seed: int = 0, sample_steps: int = 2) -> Path:
    """A freshly initialised (untrained) ``tiny`` dynamics + ``tiny`` value world model folder."""
    import torch

    from rise_env.models.dynamics import DynamicsModel
    from rise_env.models.value import ValueModel, get_value_config
    from rise_env.world_model.compositional import CompositionalWorldModel, WorldModelConfig

    torch.manual_seed(seed)
    dynamics = DynamicsModel.from_preset("tiny")
    value = ValueModel(get_value_config("tiny", task_names=(TASK,)))
    config = WorldModelConfig(task_names=[TASK], sample_steps=sample_steps)
    CompositionalWorldModel(dynamics, value, config).save_pretrained(directory)
    return Path(directory)


def make_tiny_assets(root: str | os.PathLike, num_states: int = 4, fp16: bool = False) -> Path:
    """Dataset, world model and asset folder under ``root``; returns the asset folder (``root/assets``)."""
    from rise_env.assets.build import main

    root = Path(root)
    data = write_tiny_dataset(root / "dataset")
    wm = write_tiny_world_model(root / "world_model")
    argv = ["--task", "brick_sorting", "--world-model", str(wm), "--data", str(data), "--out", str(root / "assets"),
            "--num-states", str(num_states), "--actions-horizon", "24", "--metric", "note=untrained smoke-test assets"]
    return main(argv + (["--fp16"] if fp16 else []))

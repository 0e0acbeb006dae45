"""A tiny two-task LeRobot dataset (3 episodes of 16 frames, 3 views at 32x32) for the dynamics CLIs."""

from pathlib import Path

import numpy as np
import pytest
import torch

from rise_env.data import DatasetConfig, Episode, LeRobotDatasetWriter
from rise_env.spec import agilex_cobot_magic

TASKS = ("sort the bricks", "close the box", "sort the bricks")


def _episode(length: int, seed: int, task: str) -> Episode:
    rng = np.random.default_rng(seed)
    cams = ("top", "left_wrist", "right_wrist")
    return Episode(
        task=task,
        states=rng.normal(size=(length, 14)).astype(np.float32),
        actions=rng.normal(size=(length, 14)).astype(np.float32),
        images={c: rng.integers(0, 255, (length, 32, 32, 3), dtype=np.uint8) for c in cams},
        source="demo",
        success=True,
    )


def _write_dataset(root: Path, seed: int = 0) -> Path:
    writer = LeRobotDatasetWriter(root, DatasetConfig(robot=agilex_cobot_magic(32, 32)))
    for i, task in enumerate(TASKS):
        writer.add_episode(_episode(16, seed + i, task))
    writer.finalize()
    return root


@pytest.fixture(scope="session")
def tiny_dynamics_dataset(tmp_path_factory) -> Path:
    return _write_dataset(tmp_path_factory.mktemp("dyn") / "ds")


@pytest.fixture(scope="session")
def write_tiny_dynamics_dataset():
    """``(root, seed) -> root``: writes a dataset shaped like ``tiny_dynamics_dataset`` (seed 0: equal to it)."""
    return _write_dataset


@pytest.fixture
def one_thread():
    """Single-threaded torch for bit-exact CPU comparisons; restores the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

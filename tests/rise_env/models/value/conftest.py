"""Synthetic value datasets at 32×32: the top view shows a bar whose length grows with t/T.

Successful episodes fill the bar to the right edge; failed ones stall at half length and show a
red block over their last third, so both progress and success are visible in single frames.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rise_env.data import DatasetConfig, Episode, LeRobotDatasetWriter
from rise_env.spec import agilex_cobot_magic

H = W = 32


def bar_frames(length: int, success: bool, seed: int) -> dict[str, np.ndarray]:
    """camera -> (T, H, W, 3) uint8 frames of one synthetic episode."""
    rng = np.random.default_rng(seed)
    top = np.full((length, H, W, 3), 30, np.uint8)
    for t in range(length):
        frac = t / max(length - 1, 1)
        fill = frac if success else min(frac, 0.5)
        top[t, 10:22, : max(1, int(round(fill * W)))] = 230
        if not success and frac > 2 / 3:
            top[t, 24:, :10, 0] = 230
    wrist = rng.integers(60, 90, size=(1, H, W, 3), dtype=np.uint8).repeat(length, 0)
    return {"top": top, "left_wrist": wrist, "right_wrist": wrist[:, ::-1].copy()}


def write_bar_dataset(root: Path, specs: list[tuple[int, bool, str]], task: str = "sort the bricks") -> Path:
    """specs: (length, success, source) per episode → finalized LeRobotDataset v3.0 at ``root``."""
    writer = LeRobotDatasetWriter(root, DatasetConfig(robot=agilex_cobot_magic(H, W)))
    for i, (length, success, source) in enumerate(specs):
        rng = np.random.default_rng(i)
        writer.add_episode(
            Episode(
                task=task,
                states=rng.normal(size=(length, 14)).astype(np.float32),
                actions=rng.normal(size=(length, 14)).astype(np.float32),
                images=bar_frames(length, success, i),
                source=source,
                success=success,
            )
        )
    writer.finalize()
    return root


SPECS = [(24 + 3 * (i % 4), i % 3 != 2, "demo" if i % 3 != 2 else "rollout") for i in range(12)]


@pytest.fixture(scope="session")
def bar_dataset(tmp_path_factory) -> Path:
    """12 episodes of 24–33 frames: 8 successful demos, 4 failed rollouts."""
    return write_bar_dataset(tmp_path_factory.mktemp("value") / "bars", SPECS)


@pytest.fixture(scope="session")
def vutil():
    """Helpers for test modules (importlib import mode: test files cannot import conftest)."""
    return SimpleNamespace(bar_frames=bar_frames, write_bar_dataset=write_bar_dataset, SPECS=SPECS, H=H, W=W)


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models run fastest on one thread (and do not oversubscribe a shared CI machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

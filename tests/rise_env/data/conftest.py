"""Synthetic episodes at 32x48 for the dataset tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rise_env.data import DatasetConfig, Episode, LeRobotDatasetWriter
from rise_env.spec import agilex_cobot_magic

H, W = 32, 48


def small_config(**kw) -> DatasetConfig:
    return DatasetConfig(robot=agilex_cobot_magic(H, W), **kw)


def synthetic_frames(length: int, episode: int, camera: int) -> np.ndarray:
    """(T, H, W, 3) uint8 smooth frames; the frame index is written in binary as six 8x8 red blocks (top row)."""
    yy, xx = np.mgrid[0:H, 0:W]
    out = np.empty((length, H, W, 3), np.uint8)
    for t in range(length):
        out[t, ..., 0] = 90 + yy
        for bit in range(6):
            out[t, :8, bit * 8 : bit * 8 + 8, 0] = 250 if (t >> bit) & 1 else 10
        out[t, ..., 1] = xx * 3 + camera * 30
        out[t, ..., 2] = 20 + 40 * episode + yy
    return out


def frame_ids(frames: np.ndarray) -> np.ndarray:
    """Recover the frame index encoded by :func:`synthetic_frames` from decoded frames (..., H, W, 3)."""
    bits = [frames[..., :8, b * 8 : b * 8 + 8, 0].mean((-1, -2)) > 130 for b in range(6)]
    return sum(bit.astype(int) << b for b, bit in enumerate(bits))


def make_episode(length: int, episode: int = 0, task: str = "sort the bricks", **kw) -> Episode:
    rng = np.random.default_rng(episode)
    cfg = small_config()
    defaults = dict(
        task=task,
        states=rng.normal(size=(length, 14)).astype(np.float32),
        actions=rng.normal(size=(length, 14)).astype(np.float32),
        images={c: synthetic_frames(length, episode, k) for k, c in enumerate(cfg.cameras)},
        intervention=rng.random(length) < 0.3,
        source=("demo", "rollout", "correction")[episode % 3],
        success=episode % 2 == 0,
        final_score=1.5 * episode,
        extras={"seed": 100 + episode},
    )
    defaults.update(kw)
    return Episode(**defaults)


EPISODE_SPECS = [(20, "sort the bricks"), (33, "pack the backpack"), (12, "sort the bricks"), (41, "close the box")]


@pytest.fixture(scope="session")
def written_dataset(tmp_path_factory) -> tuple[Path, list[Episode]]:
    """A finalized 4-episode, 3-task dataset and the episodes it was written from."""
    root = tmp_path_factory.mktemp("ds") / "dataset"
    writer = LeRobotDatasetWriter(root, small_config())
    episodes = [make_episode(n, i, task) for i, (n, task) in enumerate(EPISODE_SPECS)]
    for ep in episodes:
        writer.add_episode(ep)
    writer.finalize()
    return root, episodes


@pytest.fixture(scope="session")
def dsutil():
    """Helpers for test modules (importlib import mode: test files cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        small_config=small_config,
        make_episode=make_episode,
        synthetic_frames=synthetic_frames,
        frame_ids=frame_ids,
        H=H,
        W=W,
    )

"""A small analytic world model (test double) with the `ChunkWorldModel` interface.

Imagined frame k = newest memory frame + k * (mean normalised action) * 10 + seeded noise, so
the output depends on memory, actions and seed — enough to test env plumbing exactly.
"""

import numpy as np
import pytest

from rise_env.envs import InitialStateBank
from rise_env.spec import agilex_cobot_magic
from rise_env.world_model import ImaginedChunk, advantage_to_bin, chunk_advantage

H, W = 48, 64


class AnalyticWorldModel:
    chunk_size = 4
    num_memory_frames = 4
    frames_per_chunk = 2

    def __init__(self):
        self.robot = agilex_cobot_magic(H, W)
        self.task_names = ["sort the bricks"]
        self.calls = []

    def imagine_chunk(self, memory, state, actions, task_index, seeds):
        self.calls.append(dict(memory=memory.copy(), state=state.copy(), actions=actions.copy(), seeds=seeds.copy()))
        low, high = self.robot.action_limits()
        drive = ((actions - low) / (high - low) * 2 - 1).mean(axis=(1, 2))  # (B,)
        frames = []
        for b in range(memory.shape[0]):
            rng = np.random.default_rng(int(seeds[b]))
            base = memory[b, -1].astype(np.float32)
            seq = [base + (k + 1) * drive[b] * 10 + rng.normal(0, 2, base.shape) for k in range(self.frames_per_chunk)]
            frames.append(np.clip(np.stack(seq), 0, 255).astype(np.uint8))
        frames = np.stack(frames)
        values = frames.reshape(*frames.shape[:2], -1).mean(-1).astype(np.float32) / 255
        value_t0 = memory[:, -1].reshape(memory.shape[0], -1).mean(-1).astype(np.float32) / 255
        adv = chunk_advantage(values, value_t0).astype(np.float32)
        return ImaginedChunk(frames, values, value_t0, adv, advantage_to_bin(adv))


@pytest.fixture
def world_model():
    return AnalyticWorldModel()


@pytest.fixture
def bank():
    rng = np.random.default_rng(0)
    n = 5
    memory = rng.integers(60, 200, size=(n, 4, 3, H, W, 3), dtype=np.uint8)
    low, high = agilex_cobot_magic().action_limits()
    state = (low + (high - low) * rng.random((n, 14))).astype(np.float32)
    cams = ["top", "left_wrist", "right_wrist"]
    return InitialStateBank(memory, state, np.zeros(n, np.int64), ["sort the bricks"], cams)


def mid_actions(robot, n, horizon, shift=0.0):
    low, high = robot.action_limits()
    mid = (low + high) / 2 + shift * (high - low) / 2
    return np.broadcast_to(mid, (n, horizon, 14)).astype(np.float32).copy()

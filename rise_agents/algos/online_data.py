"""Samples for the self-improving loop: the online buffer of imagined rollouts and bank-based offline samples.

Both expose ``__len__`` and ``batch(ids)`` returning the policy batch contract of
``rise_agents.policies.batch`` (images at the policy's size, state, actions, advantage bins), so a
training step can mix them (``concat_batches``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rise_agents.algos.data import resize_frames
from rise_agents.policies.batch import ACTION_IS_PAD, ACTIONS, ADVANTAGE_BIN, TASK
from rise_env.envs.initial_states import InitialStateBank
from rise_env.spec.robot import STATE_KEY

_FIELDS = ("images", "state", "actions", "bins", "chunk_index")


def _policy_images(views: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(N, V, H, W, 3) uint8 → (N, V, h, w, 3) at the policy's size (aspect kept, black padding)."""
    n, v = views.shape[:2]
    flat = resize_frames(views.reshape(n * v, *views.shape[2:]), image_size)
    return flat.reshape(n, v, *flat.shape[1:])


class OnlineBuffer:
    """The newest ``capacity`` imagined samples (observation, chunk, world-model advantage bin).

    Args:
        capacity: samples kept (oldest dropped first).
        cameras: view order of the images.
        image_size: (h, w) the images are stored at (the policy's).
        horizon, action_dim: chunk shape (H, D).
        task: instruction of every sample.
    """

    def __init__(self, capacity: int, cameras: Sequence[str], image_size: tuple[int, int], horizon: int,
                 action_dim: int, task: str) -> None:
        self.capacity, self.cameras, self.image_size, self.task = int(capacity), tuple(cameras), tuple(image_size), task
        v, (h, w) = len(self.cameras), self.image_size
        self.images = np.zeros((0, v, h, w, 3), np.uint8)
        self.state = np.zeros((0, action_dim), np.float32)
        self.actions = np.zeros((0, horizon, action_dim), np.float32)
        self.bins = np.zeros(0, np.int64)
        self.chunk_index = np.zeros(0, np.int64)
        self.added = 0  # samples ever added

    def __len__(self) -> int:
        return len(self.bins)

    def add(self, obs: dict[str, np.ndarray], actions: np.ndarray, bins: np.ndarray, chunk_index: int) -> None:
        """Append N samples: batched env ``obs`` (cameras (N, H, W, 3), state (N, D)), actions (N, H, D), bins (N,)."""
        views = np.stack([np.asarray(obs[c]) for c in self.cameras], axis=1)
        n = len(views)
        if actions.shape != (n, *self.actions.shape[1:]) or np.shape(bins) != (n,):
            raise ValueError(f"expected actions {(n, *self.actions.shape[1:])} and bins ({n},), "
                             f"got {actions.shape} and {np.shape(bins)}")
        new = {"images": _policy_images(views, self.image_size), "state": np.asarray(obs[STATE_KEY], np.float32),
               "actions": actions.astype(np.float32), "bins": np.asarray(bins, np.int64),
               "chunk_index": np.full(n, chunk_index, np.int64)}
        for name in _FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]])[-self.capacity :])
        self.added += n

    def batch(self, ids: np.ndarray) -> dict:
        ids = np.asarray(ids, np.int64)
        tasks = [self.task] * len(ids)
        return _policy_batch(self.cameras, self.images, self.state, self.actions, self.bins, tasks, ids)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors for a checkpoint (``load_state_dict`` restores them)."""
        out = {f"online.{k}": torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in _FIELDS}
        out["online.added"] = torch.tensor(self.added)
        return out

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        for k in _FIELDS:
            setattr(self, k, tensors[f"online.{k}"].numpy().copy())
        self.added = int(tensors["online.added"])


class BankDataset:
    """Offline samples from an initial-state bank with recorded actions (no dataset needed).

    Sample i: the bank's newest memory frame, its state, the next ``horizon`` recorded actions, and
    advantage bin ``bin`` (the bundled bank is drawn from demonstrations: the top bin).
    """

    def __init__(self, bank: InitialStateBank, image_size: tuple[int, int], horizon: int, bin: int = 10) -> None:
        if bank.actions is None or bank.actions.shape[1] < horizon:
            have = None if bank.actions is None else bank.actions.shape[1]
            raise ValueError(f"the initial-state bank needs >= {horizon} recorded actions per start point, has {have}")
        self.cameras = tuple(bank.camera_keys)
        self.images = _policy_images(bank.memory[:, -1], image_size)
        self.state, self.actions = bank.state, bank.actions[:, :horizon]
        self.bins = np.full(len(bank), int(bin), np.int64)
        self.tasks = [bank.task_names[i] for i in bank.task_index]
        self.episodes = sorted(set(bank.episode_index.tolist())) if bank.episode_index is not None else [0]

    def __len__(self) -> int:
        return len(self.bins)

    def prepare(self, progress: bool = True) -> None:
        """Nothing to cache (kept for the trainer's interface)."""

    def batch(self, ids: np.ndarray) -> dict:
        ids = np.asarray(ids, np.int64)
        return _policy_batch(self.cameras, self.images, self.state, self.actions, self.bins,
                             [self.tasks[i] for i in ids], ids)


def _policy_batch(cameras, images, state, actions, bins, tasks: list[str], ids: np.ndarray) -> dict:
    """Rows ``ids`` of stored samples as a policy batch (no padded actions: every chunk is complete)."""
    out = {c: images[ids, v] for v, c in enumerate(cameras)}
    out[STATE_KEY] = state[ids]
    out[ACTIONS] = actions[ids]
    out[ACTION_IS_PAD] = np.zeros(actions[ids].shape[:2], bool)
    out[ADVANTAGE_BIN] = bins[ids]
    out[TASK] = tasks
    return out


def concat_batches(*batches: dict) -> dict:
    """Concatenate policy batches along the batch axis (lists for the task strings)."""
    batches = [b for b in batches if len(b[ADVANTAGE_BIN])]
    out = {}
    for key in batches[0]:
        values = [b[key] for b in batches]
        out[key] = sum(values, []) if isinstance(values[0], list) else np.concatenate(values)
    return out

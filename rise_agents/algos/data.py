"""Policy training samples from a LeRobotDataset v3.0: (frame t, state_t, actions t..t+H−1, pad mask, bin).

Frames are decoded once per episode, resized (aspect kept, black padding) to the policy's image
size and cached as one uint8 ``.npy`` per episode (``(T, V, h, w, 3)``, ``rise_env.data.frames``),
memory-mapped afterwards: random access then costs a page-cache read, not a video decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rise_agents.policies.batch import ACTION_IS_PAD, ACTIONS, ADVANTAGE_BIN, TASK, resize_with_pad
from rise_env.data import LeRobotDatasetReader
from rise_env.data.frames import ResizedFrames
from rise_env.spec.robot import STATE_KEY


def resize_frames(frames: np.ndarray, size: tuple[int, int], chunk: int = 256) -> np.ndarray:
    """(T, H, W, 3) uint8 → (T, h, w, 3) uint8, bilinear with the aspect kept and black padding."""
    if frames.shape[1:3] == tuple(size):
        return np.ascontiguousarray(frames)
    out = []
    for i in range(0, len(frames), chunk):
        x = torch.from_numpy(np.ascontiguousarray(frames[i : i + chunk])).permute(0, 3, 1, 2).float()
        y = resize_with_pad(x, size, pad_value=0.0)
        out.append(y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out) if out else np.zeros((0, *size, 3), np.uint8)


def delta_action_quantiles(
    reader: LeRobotDatasetReader, mask: Sequence[bool], horizon: int, max_frames: int = 20000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """q01, q99 (14,) of ``actions[t + k] − mask · state[t]`` over chunk steps k < ``horizon``.

    The statistics a delta-action policy normalises its targets with; chunks stop at their
    episode's end (openpi computes its norm stats on the transformed chunks the same way).
    """
    frames = np.arange(reader.num_frames)
    if len(frames) > max_frames:
        frames = np.sort(np.random.default_rng(seed).choice(frames, max_frames, replace=False))
    ends = np.array([reader.episodes[e].to_index for e in reader.episode_index[frames]])
    idx = frames[:, None] + np.arange(int(horizon))[None]
    valid = idx < ends[:, None]
    delta = reader.actions[np.minimum(idx, ends[:, None] - 1)] - reader.states[frames][:, None] * np.asarray(mask)
    values = delta[valid]
    return np.quantile(values, 0.01, axis=0), np.quantile(values, 0.99, axis=0)


class ChunkDataset:
    """Samples of the chosen episodes of a dataset, with per-frame advantage bins.

    Args:
        reader: the dataset.
        cameras: views in the policy's order (must exist in the dataset).
        image_size: (h, w) of the policy's images.
        horizon: action chunk length H.
        cache_dir: where resized episodes are cached.
        sources: episode sources to keep ("demo", "rollout", "correction").
        default_bin: advantage bin of every frame unless ``set_bins`` is called (RECAP labels per frame).
    """

    def __init__(
        self,
        reader: LeRobotDatasetReader,
        cameras: Sequence[str],
        image_size: tuple[int, int],
        horizon: int,
        cache_dir: str | Path,
        sources: Sequence[str] = ("demo",),
        default_bin: int = 10,
    ) -> None:
        self.reader, self.cameras, self.image_size = reader, tuple(cameras), tuple(image_size)
        self.horizon = int(horizon)
        self.frames = ResizedFrames(
            reader, self.image_size, cache_dir, cameras=self.cameras, resize=resize_frames, resize_name="pad"
        )
        self.episodes = [m.episode_index for m in reader.episodes if m.source in sources]
        if not self.episodes:
            found = sorted({m.source for m in reader.episodes})
            raise ValueError(f"{reader.root}: no episode with source in {list(sources)}; sources present: {found}")
        self.sample_frame = np.concatenate(
            [np.arange(reader.episodes[e].from_index, reader.episodes[e].to_index) for e in self.episodes]
        )
        self.sample_episode = reader.episode_index[self.sample_frame]
        self.bins = np.full(reader.num_frames, int(default_bin), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.sample_frame)

    def set_bins(self, bins: np.ndarray) -> None:
        """Per-frame advantage bins over the whole dataset, ``(num_frames,)`` int in 0..10."""
        bins = np.asarray(bins, dtype=np.int64)
        if bins.shape != (self.reader.num_frames,):
            raise ValueError(f"bins must have shape ({self.reader.num_frames},), got {bins.shape}")
        self.bins = bins

    # ------------------------------------------------------------------ frame cache
    def episode_frames(self, ep: int) -> np.ndarray:
        """(T, V, h, w, 3) uint8 resized frames of episode ``ep`` (built once, then memory-mapped)."""
        return self.frames.episode(ep)

    def prepare(self, progress: bool = True) -> None:
        """Fill the frame cache for every selected episode (one decode per episode)."""
        self.frames.prepare(self.episodes, progress=progress)

    # ------------------------------------------------------------------ samples
    def batch(self, sample_ids: np.ndarray) -> dict:
        """Samples ``sample_ids`` (indices into this dataset) → a policy batch (see ``policies.batch``).

        Images (B, h, w, 3) uint8 per camera, state (B, 14), actions (B, H, 14) padded with the
        episode's last action, action_is_pad (B, H), advantage_bin (B,), task (list of B str).
        """
        r, h = self.reader, self.horizon
        rows = self.sample_frame[np.asarray(sample_ids, dtype=np.int64)]
        images = {c: [] for c in self.cameras}
        actions, pads, tasks = [], [], []
        for row in rows:
            ep = int(r.episode_index[row])
            meta = r.episodes[ep]
            t = int(row - meta.from_index)
            frames = self.episode_frames(ep)
            for v, c in enumerate(self.cameras):
                images[c].append(frames[t, v])
            idx = np.arange(row, row + h)
            pad = idx >= meta.to_index
            actions.append(r.actions[np.minimum(idx, meta.to_index - 1)])
            pads.append(pad)
            tasks.append(meta.task)
        out = {c: np.stack(v) for c, v in images.items()}
        out[STATE_KEY] = r.states[rows]
        out[ACTIONS] = np.stack(actions).astype(np.float32)
        out[ACTION_IS_PAD] = np.stack(pads)
        out[ADVANTAGE_BIN] = self.bins[rows]
        out[TASK] = tasks
        return out

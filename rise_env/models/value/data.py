"""Value-training frames held in memory at the model's image size, and the episode split.

Random frames from hundreds of episodes would decode a whole episode video per sample, so the
bank decodes every training episode once, keeps every ``stride``-th frame (plus the last one)
resized to the backbone's image size as uint8, and samples batches from memory. For a kept frame
``t`` the TD partner is the next kept frame ``t + k`` of the same episode (``k`` = ``gap``) and the
last frame is terminal (see ``losses.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from rise_env.data.reader import LeRobotDatasetReader
from rise_env.data.split import split_episodes  # noqa: F401 - re-exported
from rise_env.models.value.model import frames_to_pixels


def kept_frames(length: int, stride: int) -> np.ndarray:
    """Indices ``0, k, 2k, …`` plus the last frame ``length − 1``."""
    return np.unique(np.concatenate([np.arange(0, length, stride), [length - 1]])).astype(np.int64)


def resize_frames(frames: np.ndarray, size: tuple[int, int], mode: str, chunk: int = 256) -> np.ndarray:
    """uint8 (N, V, H, W, 3) → uint8 (N, V, h, w, 3) (no copy when already at ``size``)."""
    if tuple(frames.shape[2:4]) == tuple(size):
        return frames
    n, v = frames.shape[:2]
    flat = torch.from_numpy(np.ascontiguousarray(frames.reshape(n * v, *frames.shape[2:])))
    out = []
    for i in range(0, flat.shape[0], chunk):
        pix = frames_to_pixels(flat[i : i + chunk], size, mode)
        out.append(((pix + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1))
    return torch.cat(out).reshape(n, v, size[0], size[1], 3).numpy()


class FrameBank:
    """Kept frames of some episodes, with per-frame targets.

    Arrays (length N, one row per kept frame): ``frames`` (N, V, h, w, 3) uint8, ``episode``, ``t``,
    ``length``, ``next_row`` (row of the TD partner; itself for the last frame), ``gap`` (frames to
    the partner), ``reward`` (±1 on the last frame, else 0), ``done``, ``progress`` (t/T),
    ``progress_mask`` (successful episode of a progress source), ``success``, ``task_index``.
    """

    def __init__(
        self,
        reader: LeRobotDatasetReader,
        episodes: Sequence[int],
        image_size: tuple[int, int],
        stride: int = 1,
        resize_mode: str = "stretch",
        progress_sources: Sequence[str] = ("demo",),
        progress: bool = True,
    ) -> None:
        if stride < 1:
            raise ValueError(f"frame stride must be >= 1; got {stride}")
        self.image_size, self.stride = tuple(image_size), stride
        cols: dict[str, list[np.ndarray]] = {k: [] for k in self._COLUMNS}
        frames, row0 = [], 0
        for ep in tqdm(list(episodes), desc="loading episodes", disable=not progress, leave=False):
            m = reader.episodes[ep]
            keep = kept_frames(m.length, stride)
            raw = reader.episode_frames(ep)
            views = np.stack([raw[c][keep] for c in reader.cameras], axis=1)
            frames.append(resize_frames(views, self.image_size, resize_mode))
            n = len(keep)
            last = np.arange(n) == n - 1
            cols["episode"].append(np.full(n, ep))
            cols["t"].append(keep)
            cols["length"].append(np.full(n, m.length))
            cols["next_row"].append(row0 + np.minimum(np.arange(n) + 1, n - 1))
            cols["gap"].append(np.append(np.diff(keep), 0))
            cols["reward"].append(np.where(last, 1.0 if m.success else -1.0, 0.0))
            cols["done"].append(last)
            cols["progress"].append(keep / m.length)
            cols["progress_mask"].append(np.full(n, m.success and m.source in progress_sources))
            cols["success"].append(np.full(n, m.success))
            cols["task_index"].append(np.full(n, m.task_index))
            row0 += n
        if not frames:
            raise ValueError("FrameBank needs at least one episode")
        self.frames = np.concatenate(frames)
        for key, dtype in self._COLUMNS.items():
            setattr(self, key, np.concatenate(cols[key]).astype(dtype))

    _COLUMNS = {
        "episode": np.int64,
        "t": np.int64,
        "length": np.int64,
        "next_row": np.int64,
        "gap": np.float32,
        "reward": np.float32,
        "done": bool,
        "progress": np.float32,
        "progress_mask": bool,
        "success": bool,
        "task_index": np.int64,
    }

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """Rows → ``obs`` / ``next_obs`` (B, V, h, w, 3) uint8 and the per-frame columns as tensors."""
        rows = np.asarray(rows, dtype=np.int64)
        out = {
            "obs": torch.from_numpy(self.frames[rows]),
            "next_obs": torch.from_numpy(self.frames[self.next_row[rows]]),
        }
        for key in self._COLUMNS:
            out[key] = torch.from_numpy(getattr(self, key)[rows])
        return out

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """A uniformly drawn batch of kept frames."""
        return self.batch(rng.integers(0, len(self), size=batch_size))


def auto_stride(
    reader: LeRobotDatasetReader, episodes: Sequence[int], image_size: tuple[int, int], views: int, max_gb: float
) -> int:
    """Smallest frame stride whose kept frames fit in ``max_gb`` GiB."""
    per_frame = views * image_size[0] * image_size[1] * 3
    lengths = [reader.episodes[e].length for e in episodes]
    stride = 1
    while sum(math.ceil(n / stride) + int((n - 1) % stride != 0) for n in lengths) * per_frame > max_gb * 2**30:
        stride += 1
        if stride > max(lengths, default=1):
            raise ValueError(f"even one frame per episode exceeds max_bank_gb={max_gb}")
    return stride

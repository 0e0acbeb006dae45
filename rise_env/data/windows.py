"""Training samples drawn from a dataset: dynamics windows and value samples (torch Datasets).

Frame ``i`` of an episode is the observation before action ``i``; the observation after action ``i``
is frame ``i + 1``. For a window at frame ``t`` (defaults, 30 Hz recording):

- memory: frames ``t - 6, t - 4, t - 2, t`` (15 Hz), clipped to 0 at the episode start (the first
  frame repeats);
- actions: ``a_t .. a_{t+49}`` (the 50-step chunk at 30 Hz);
- future: frames ``t + 2, t + 4, ..., t + 50`` (the observations after control steps 2, 4, ..., 50,
  i.e. 25 frames at 15 Hz).

Past the episode end, actions and frames repeat the last recorded ones and are flagged in
``action_is_pad`` / ``future_is_pad`` (the last observation after the final action is not recorded).
Images come as uint8 ``(n, V, H, W, 3)`` with views in camera order (top, left_wrist, right_wrist).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.utils.data import Dataset

from rise_env.data.layout import SOURCES
from rise_env.data.reader import LeRobotDatasetReader


class WindowConfig(BaseModel):
    """Shape of a dynamics training window."""

    model_config = ConfigDict(frozen=True)

    memory_frames: int = Field(4, ge=1, description="Memory (history) frames, the current one included.")
    memory_stride: int = Field(2, ge=1, description="Spacing of memory frames in recorded frames (2 = 15 Hz).")
    chunk: int = Field(50, ge=1, description="Action chunk length in control steps.")
    future_stride: int = Field(2, ge=1, description="Spacing of predicted frames in control steps (2 = 15 Hz).")
    pad_end: bool = Field(True, description="Allow windows whose chunk runs past the episode end (padded).")

    @property
    def future_frames(self) -> int:
        """Number of predicted frames: ``chunk // future_stride`` (25 by default)."""
        return self.chunk // self.future_stride


def window_indices(t: int, length: int, cfg: WindowConfig) -> dict[str, np.ndarray]:
    """Within-episode frame indices of the window at frame ``t`` of an episode of ``length`` frames.

    Returns:
        ``memory`` (M,), ``actions`` (H,), ``action_is_pad`` (H,), ``future`` (K,), ``future_is_pad`` (K,).
    """
    if not 0 <= t < length:
        raise IndexError(f"frame {t} is outside an episode of {length} frames")
    mem = t - cfg.memory_stride * np.arange(cfg.memory_frames - 1, -1, -1)
    act = t + np.arange(cfg.chunk)
    fut = t + cfg.future_stride * np.arange(1, cfg.future_frames + 1)
    return {
        "memory": np.clip(mem, 0, None),
        "actions": np.minimum(act, length - 1),
        "action_is_pad": act > length - 1,
        "future": np.minimum(fut, length - 1),
        "future_is_pad": fut > length - 1,
    }


def episode_windows(windows, episodes: list[int], stride: int = 1) -> np.ndarray:
    """Sorted ids of the windows of ``episodes`` that start every ``stride``-th frame.

    ``windows`` is a dataset with ``sample_episode_index`` and ``sample_frame_index``. Given a dynamics
    run's training episodes and ``--window-stride``, these are the windows its transformer trains on.
    """
    if stride < 1:
        raise ValueError(f"window stride must be >= 1, got {stride}")
    chosen = np.isin(windows.sample_episode_index, episodes) & (windows.sample_frame_index % stride == 0)
    return np.flatnonzero(chosen)


class _EpisodeSamples(Dataset):
    """Common part: a flat list of (episode, frame) samples with their episode and task ids."""

    def __init__(self, reader: LeRobotDatasetReader, starts: list[np.ndarray]):
        self.reader = reader
        ep = np.concatenate([np.full(len(s), e, np.int64) for e, s in enumerate(starts)] or [np.zeros(0, np.int64)])
        fr = np.concatenate(starts or [np.zeros(0, np.int64)]).astype(np.int64)
        self.sample_episode_index = ep
        self.sample_frame_index = fr
        self.sample_task_index = np.array([reader.episodes[e].task_index for e in ep], np.int64)

    def __len__(self) -> int:
        return len(self.sample_episode_index)

    def _locate(self, i: int) -> tuple[int, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} samples")
        return int(self.sample_episode_index[i]), int(self.sample_frame_index[i])


class DynamicsWindowDataset(_EpisodeSamples):
    """Dynamics-model windows: memory frames + action chunk -> future frames.

    Items (torch): ``memory_frames`` (M, V, H, W, 3) uint8, ``future_frames`` (K, V, H, W, 3) uint8,
    ``actions`` (H, D) float32, ``action_is_pad`` (H,), ``future_is_pad`` (K,) bool, ``state`` (D,)
    float32 (at frame t), ``memory_index`` (M,), ``future_index`` (K,), ``episode_index``,
    ``frame_index``, ``task_index`` int64.

    ``frames`` supplies the images (anything with ``frames_at(ep, indices)``, e.g. a
    ``rise_env.data.frames.ResizedFrames`` at the model's resolution); default: the reader's.
    """

    def __init__(self, reader: LeRobotDatasetReader, cfg: WindowConfig | None = None, frames=None):
        self.cfg = cfg or WindowConfig()
        self.frames = frames if frames is not None else reader
        starts = []
        for m in reader.episodes:
            last = m.length - 1 if self.cfg.pad_end else m.length - 1 - self.cfg.chunk
            starts.append(np.arange(max(last + 1, 0), dtype=np.int64))
        super().__init__(reader, starts)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.conditioning(i)
        ep = int(item["episode_index"])
        return {
            "memory_frames": torch.from_numpy(self.frames.frames_at(ep, item["memory_index"].numpy())),
            "future_frames": torch.from_numpy(self.frames.frames_at(ep, item["future_index"].numpy())),
            **item,
        }

    def future_frames(self, i: int, later: int = 0) -> torch.Tensor:
        """``(K, V, H, W, 3)`` uint8: window ``i``'s future frames alone (no memory frames, actions or state read).

        ``later``: the future as recorded that many frames later in the episode (frames past its end repeat
        its last), i.e. the real motion that much early.
        """
        if later < 0:
            raise ValueError(f"later must be >= 0 recorded frames, got {later}")
        ep, t = self._locate(i)
        length = self.reader.episodes[ep].length
        index = window_indices(min(t + later, length - 1), length, self.cfg)["future"]
        return torch.from_numpy(self.frames.frames_at(ep, index))

    def conditioning(self, i: int) -> dict[str, torch.Tensor]:
        """Window ``i`` without its images: every item key but ``memory_frames`` and ``future_frames``."""
        ep, t = self._locate(i)
        r = self.reader
        ix = window_indices(t, r.episodes[ep].length, self.cfg)
        base = r.episodes[ep].from_index
        return {
            "actions": torch.from_numpy(r.actions[base + ix["actions"]]),
            "action_is_pad": torch.from_numpy(ix["action_is_pad"]),
            "future_is_pad": torch.from_numpy(ix["future_is_pad"]),
            "state": torch.from_numpy(r.states[base + t].copy()),
            "memory_index": torch.from_numpy(ix["memory"]),
            "future_index": torch.from_numpy(ix["future"]),
            "episode_index": torch.tensor(ep),
            "frame_index": torch.tensor(t),
            "task_index": torch.tensor(r.episodes[ep].task_index),
        }


class ValueSampleDataset(_EpisodeSamples):
    """Value-model samples, one per recorded frame.

    Items (torch): ``obs`` (V, H, W, 3) uint8 at t, ``next_obs`` at t+1 (= obs at the last frame),
    ``state`` (D,), ``progress`` t/T and ``next_progress`` float32, ``reward`` float32 (+1 on the
    last frame of a success, -1 on the last frame of a failure, 0 elsewhere), ``done`` bool (last
    frame), ``success`` bool, ``source`` int64 (index into ``SOURCES``: demo, rollout, correction),
    ``episode_index``, ``frame_index``, ``task_index`` int64.
    """

    def __init__(self, reader: LeRobotDatasetReader):
        super().__init__(reader, [np.arange(m.length, dtype=np.int64) for m in reader.episodes])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ep, t = self._locate(i)
        r, m = self.reader, self.reader.episodes[ep]
        nxt = min(t + 1, m.length - 1)
        obs, next_obs = r.frames_at(ep, np.array([t, nxt]))
        last = t == m.length - 1
        reward = (1.0 if m.success else -1.0) if last else 0.0
        return {
            "obs": torch.from_numpy(obs),
            "next_obs": torch.from_numpy(next_obs),
            "state": torch.from_numpy(r.states[m.from_index + t].copy()),
            "progress": torch.tensor(t / m.length, dtype=torch.float32),
            "next_progress": torch.tensor(nxt / m.length, dtype=torch.float32),
            "reward": torch.tensor(reward, dtype=torch.float32),
            "done": torch.tensor(last),
            "success": torch.tensor(m.success),
            "source": torch.tensor(SOURCES.index(m.source) if m.source in SOURCES else -1),
            "episode_index": torch.tensor(ep),
            "frame_index": torch.tensor(t),
            "task_index": torch.tensor(m.task_index),
        }

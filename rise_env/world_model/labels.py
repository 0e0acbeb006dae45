"""Chunk advantages of recorded episodes (paper Eq. 2 on real later frames), as RECAP labels them.

For a chunk starting at 30 Hz frame t, the "imagined" frames are the recorded ones the world model
would have imagined: every ``stride``-th frame after t up to t + chunk. With values V of every frame,

    A_t = clamp(scale · (mean_k V(o_{t + stride·k}) − V(o_t)), −1, 1),   k = 1 .. chunk / stride
"""

from __future__ import annotations

import numpy as np

from rise_env.spec.advantage import chunk_advantage


def chunk_starts(length: int, chunk: int = 50, every: int = 50) -> np.ndarray:
    """Frame indices t (every ``every`` frames) whose whole chunk t .. t + chunk lies in the episode."""
    if chunk < 1 or every < 1:
        raise ValueError(f"chunk and every must be >= 1, got {chunk}, {every}")
    return np.arange(0, max(length - chunk, 0), every, dtype=np.int64)


def recorded_chunk_advantages(
    values: np.ndarray, starts: np.ndarray, chunk: int = 50, stride: int = 2, scale: float = 5.0
) -> np.ndarray:
    """Advantages (len(starts),) from per-frame values (T,) of one episode (NaN where not computed).

    Raises if a needed frame's value is missing (NaN) or beyond the episode.
    """
    values = np.asarray(values, np.float64)
    offsets = np.arange(stride, chunk + 1, stride)
    idx = np.asarray(starts)[:, None] + offsets[None, :]
    if idx.size and idx.max() >= len(values):
        last = int(np.max(starts))
        raise ValueError(f"chunk of {chunk} frames from start {last} runs past the episode ({len(values)} frames)")
    future, now = values[idx], values[np.asarray(starts)]
    if np.isnan(future).any() or np.isnan(now).any():
        raise ValueError("values are missing (NaN) for frames a chunk needs")
    return chunk_advantage(future, now, scale=scale)


def frame_advantages(values: np.ndarray, chunk: int = 50, stride: int = 2, scale: float = 5.0) -> np.ndarray:
    """Advantage of the chunk starting at every frame of one episode, (T,) from per-frame values (T,).

    Like `recorded_chunk_advantages`, but defined for every start: frames past the episode end are
    the last recorded frame (the robot rests there), so late chunks compare the final state with now.
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"values must be a non-empty (T,) array, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("values are missing (NaN)")
    idx = np.minimum(np.arange(len(values))[:, None] + np.arange(stride, chunk + 1, stride)[None, :], len(values) - 1)
    return chunk_advantage(values[idx], values, scale=scale)

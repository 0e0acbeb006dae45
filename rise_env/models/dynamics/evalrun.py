"""Evaluate a dynamics model on recorded windows: fidelity JSON figures and a real | imagined mp4.

Windows are picked deterministically: evenly spaced start frames in each chosen episode (windows
whose chunk stays inside the episode when there are any), ordered so consecutive windows come from
different episodes, so the controllability swap uses another episode's actions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate

from rise_env.data import DynamicsWindowDataset, LeRobotDatasetReader, WindowConfig, episode_windows
from rise_env.data.frames import frames_at_size
from rise_env.models.dynamics.evaluation import evaluate_dynamics
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.utils.video import compare_views, write_video


def pick_windows(
    windows: DynamicsWindowDataset, episodes: list[int], max_windows: int, window_stride: int = 1
) -> list[int]:
    """Up to ``max_windows`` window ids, interleaved across ``episodes``.

    An episode's ``n`` windows start at the centres of ``n`` equal parts of it (one window: the middle),
    so they sample the whole episode rather than its ends, where the robot rests. ``window_stride``
    keeps only windows starting every that many frames: with a training run's ``--window-stride``,
    exactly the windows its transformer trained on.
    """
    per_ep = -(-max_windows // len(episodes))
    chosen: list[list[int]] = []
    for e in episodes:
        ids = episode_windows(windows, [e], window_stride)
        if len(ids):
            n = min(per_ep, len(ids))
            take = ((np.arange(n) + 0.5) * len(ids) / n).astype(int)
            chosen.append(ids[take].tolist())
    order = [w for rank in range(per_ep) for ids in chosen if rank < len(ids) for w in [ids[rank]]]
    return order[:max_windows]


def evaluate_run(
    model: DynamicsModel,
    reader: LeRobotDatasetReader,
    episodes: list[int],
    steps: int = 50,
    max_windows: int = 32,
    batch_size: int = 4,
    video: str | Path | None = None,
    video_windows: int = 4,
    seed: int = 0,
    frame_cache: str | Path | None = None,
    guidance: float | None = None,
    guidance_interval: tuple[float, float] | None = None,
    window_stride: int = 1,
) -> dict[str, Any]:
    """Fidelity figures (``evaluate_dynamics`` keys + ``windows``) on windows of ``episodes``.

    With ``video``, writes an mp4 of the first ``video_windows`` windows: each frame is
    ``(V*H, 2*W, 3)`` (rows = views, columns = real | imagined), ``future_frames`` frames per window.
    Real frames are resized to the model's resolution (read from ``frame_cache`` when given).
    ``guidance`` / ``guidance_interval``: action guidance weight and its flow times (default: the model's config).
    ``window_stride``: score only windows starting every that many frames (see :func:`pick_windows`).
    """
    c = model.config
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (controllability swaps actions within a batch), got {batch_size}")
    wc = WindowConfig(memory_frames=c.memory_frames, chunk=c.action_horizon, future_stride=c.action_stride)
    frames = frames_at_size(reader, (c.height, c.width), frame_cache)
    windows = DynamicsWindowDataset(reader, wc.model_copy(update={"pad_end": False}), frames)
    if not np.isin(windows.sample_episode_index, episodes).any():  # episodes shorter than a chunk: pad
        windows = DynamicsWindowDataset(reader, wc, frames)
    ids = pick_windows(windows, episodes, max_windows, window_stride)
    if len(ids) < 2:
        raise ValueError(f"episodes {episodes} give {len(ids)} window(s); at least 2 are needed")
    batches = [default_collate([windows[i] for i in ids[k : k + batch_size]]) for k in range(0, len(ids), batch_size)]
    if len(batches) > 1 and len(batches[-1]["actions"]) < 2:  # keep every batch swappable
        batches[-2] = default_collate([windows[i] for i in ids[-batch_size - 1 :]])
        batches.pop()
    clips: list[np.ndarray] = []

    def keep(batch: dict[str, torch.Tensor], pred: torch.Tensor) -> None:
        for real, imagined in zip(batch["future_frames"].numpy(), pred.numpy()):
            if len(clips) < video_windows:
                clips.append(np.stack([compare_views(r, m) for r, m in zip(real, imagined)]))

    result = evaluate_dynamics(
        model,
        batches,
        steps=steps,
        seed=seed,
        callback=keep if video else None,
        guidance=guidance,
        guidance_interval=guidance_interval,
    )
    result["windows"] = len(ids)
    result["window_stride"] = window_stride
    result["per_view"] = {"views": list(reader.cameras), **result["per_view"]}
    result["episode_indices"] = sorted({int(windows.sample_episode_index[i]) for i in ids})
    result["data_fingerprint"] = reader.fingerprint  # which collection: figures of two differ
    if video:
        write_video(video, [frame for clip in clips for frame in clip], fps=15)
    return result

"""Value curves over recorded episodes and the value-model evaluation (metrics + plots)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rise_env.data.reader import LeRobotDatasetReader
from rise_env.metrics.value import EpisodeCurve, plot_value_curves, value_metrics
from rise_env.models.value.data import kept_frames, resize_frames
from rise_env.models.value.model import ValueModel


def episode_curves(
    model: ValueModel,
    reader: LeRobotDatasetReader,
    episodes: Sequence[int] | None = None,
    frame_stride: int = 1,
    batch_size: int = 64,
    progress: bool = True,
) -> list[EpisodeCurve]:
    """V at every ``frame_stride``-th frame (and the last) of each episode (default: all episodes)."""
    cams = list(model.cfg.backbone.camera_names)
    if sorted(cams) != sorted(reader.cameras):
        raise ValueError(f"the model expects views {cams} but the dataset has cameras {reader.cameras}")
    episodes = range(reader.num_episodes) if episodes is None else episodes
    curves = []
    for ep in tqdm(list(episodes), desc="value curves", disable=not progress, leave=False):
        m = reader.episodes[ep]
        keep = kept_frames(m.length, frame_stride)
        raw = reader.episode_frames(ep)
        frames = resize_frames(
            np.stack([raw[c][keep] for c in cams], axis=1), model.cfg.image_size, model.cfg.resize_mode
        )
        values = model.values(frames, m.task, batch_size=batch_size)
        curves.append(EpisodeCurve(values, keep, m.length, m.success, ep, f"ep {ep} {m.source}"))
    return curves


def evaluate_value_model(
    model: ValueModel,
    reader: LeRobotDatasetReader,
    episodes: Sequence[int] | None = None,
    frame_stride: int = 1,
    end_fraction: float = 0.1,
    plot_path: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Metrics of ``rise_env.metrics.value.value_metrics`` on the given episodes, plus a PNG if asked.

    The Spearman correlation uses the successful episodes among ``episodes``; hold them out of
    training for an honest number.
    """
    curves = episode_curves(model, reader, episodes, frame_stride, progress=progress)
    result = value_metrics(curves, end_fraction)
    result["frame_stride"] = frame_stride
    result["episode_indices"] = [c.episode for c in curves]
    if plot_path is not None:
        ok, bad = [c for c in curves if c.success], [c for c in curves if not c.success]
        interleaved = [c for pair in zip(ok, bad) for c in pair] + ok[len(bad) :] + bad[len(ok) :]
        plot_value_curves(interleaved, plot_path, title="value vs t/T")
        result["plot"] = str(plot_path)
    return result

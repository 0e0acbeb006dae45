"""RECAP advantage labels of an offline dataset (paper Sec. III-B / IV-D).

Rollout episodes are scored by the value model: V of every ``stride``-th recorded frame (linearly
interpolated between), then Eq. 2 on the recorded later frames (``frame_advantages``) and 10 uniform
bins. Demonstrations and corrections get the top bin. Labels are cached in
``RUN/advantage_labels.safetensors`` next to the value model's identity, so a resumed run does not
recompute them and a different value model is never mixed in silently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from tqdm import tqdm

from rise_env.assets.manifest import sha256_file
from rise_env.data import LeRobotDatasetReader
from rise_env.spec.advantage import advantage_to_bin
from rise_env.utils.atomic import atomic_write
from rise_env.world_model.labels import frame_advantages

LABELS_FILE = "advantage_labels.safetensors"
TOP_SOURCES = ("demo", "correction")


def episode_values(value_model, reader: LeRobotDatasetReader, episode: int, stride: int = 2) -> np.ndarray:
    """Value of every frame of ``episode``, (T,) float32: the model on every ``stride``-th frame, interpolated."""
    meta = reader.episodes[episode]
    decoded = reader.episode_frames(episode)
    frames = np.stack([decoded[c] for c in reader.cameras], axis=1)  # (T, V, H, W, 3)
    picked = np.unique(np.r_[np.arange(0, meta.length, stride), meta.length - 1])
    with torch.no_grad():
        values = np.asarray(value_model.values(frames[picked], [meta.task] * len(picked)), np.float64)
    return np.interp(np.arange(meta.length), picked, values).astype(np.float32)


def label_dataset(
    reader: LeRobotDatasetReader,
    value_model,
    label_sources: Sequence[str] = ("rollout",),
    top_sources: Sequence[str] = TOP_SOURCES,
    stride: int = 2,
    chunk: int = 50,
    frame_stride: int = 2,
    scale: float = 5.0,
    n_bins: int = 10,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Per-frame labels over the whole dataset.

    Returns ``advantage`` (N,) float32 (NaN where not value-labelled) and ``bin`` (N,) int64:
    ``n_bins`` for ``top_sources`` episodes, the advantage's bin for ``label_sources`` ones, 0 elsewhere.
    """
    advantage = np.full(reader.num_frames, np.nan, np.float32)
    bins = np.zeros(reader.num_frames, np.int64)
    todo = [m for m in reader.episodes if m.source in label_sources]
    for meta in reader.episodes:
        if meta.source in top_sources:
            bins[meta.from_index : meta.to_index] = n_bins
    for meta in tqdm(todo, desc="labelling rollouts", disable=not progress, leave=False):
        values = episode_values(value_model, reader, meta.episode_index, stride)
        adv = frame_advantages(values, chunk=chunk, stride=frame_stride, scale=scale)
        advantage[meta.from_index : meta.to_index] = adv
        bins[meta.from_index : meta.to_index] = np.asarray(advantage_to_bin(torch.as_tensor(adv), n_bins))
    return {"advantage": advantage, "bin": bins}


def load_or_label(
    run: Path, reader: LeRobotDatasetReader, value_dir: Path, progress: bool = True, **kwargs
) -> dict[str, np.ndarray]:
    """``label_dataset`` cached in ``run/advantage_labels.safetensors`` (reused when inputs match)."""
    from rise_env.models.value import ValueModel

    weights = Path(value_dir) / "model.safetensors"
    identity = {"value_model": str(Path(value_dir).resolve()), "dataset": str(reader.root.resolve()),
                "value_sha256": sha256_file(weights) if weights.is_file() else None,
                "num_frames": reader.num_frames, **{k: str(v) for k, v in sorted(kwargs.items())}}
    path = Path(run) / LABELS_FILE
    if path.is_file():
        from safetensors import safe_open

        with safe_open(str(path), "np") as f:
            saved = json.loads((f.metadata() or {}).get("identity", "{}"))
        if saved == identity:
            return load_file(str(path))
        print(f"{path}: labels were made from other inputs; relabelling")
    labels = label_dataset(reader, ValueModel.from_pretrained(value_dir), progress=progress, **kwargs)
    atomic_write(path, lambda tmp: save_file(labels, str(tmp), metadata={"identity": json.dumps(identity)}))
    return labels


def label_summary(labels: dict[str, np.ndarray], reader: LeRobotDatasetReader) -> dict[str, dict[str, float]]:
    """Mean advantage and bin per source (printed and stored with the run)."""
    out = {}
    for source in sorted({m.source for m in reader.episodes}):
        rows = np.concatenate([np.arange(m.from_index, m.to_index) for m in reader.episodes if m.source == source])
        adv = labels["advantage"][rows]
        out[source] = {"frames": int(len(rows)), "mean_bin": float(labels["bin"][rows].mean()),
                       "mean_advantage": float(np.nanmean(adv)) if np.isfinite(adv).any() else None}
    return out

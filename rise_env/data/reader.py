"""LeRobotDataset v3.0 reader (pyarrow + PyAV, no lerobot): metadata, per-frame tables, decoded video.

All per-frame columns are loaded into memory once (a few hundred bytes per frame); video is decoded
per episode and kept in a small LRU cache, so windows drawn from the same few episodes (see the
task-centric sampler) decode each episode once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rise_env.data.episode import Episode
from rise_env.data.finalize import recover_finalize
from rise_env.data.layout import (
    ACTION,
    CODEBASE_VERSION,
    DONE,
    IMAGE_PREFIX,
    INFO_PATH,
    INTERVENTION,
    REWARD,
    STATE,
    STATS_PATH,
    TASKS_PATH,
)
from rise_env.data.normalize import Normalizer
from rise_env.data.stats import Stats, stats_from_json
from rise_env.data.video import decode_range
from rise_env.utils.atomic import read_json


@dataclass(frozen=True)
class EpisodeMeta:
    """One row of ``meta/episodes``: where an episode lives and how it went."""

    episode_index: int
    task: str
    task_index: int
    length: int
    from_index: int
    to_index: int
    source: str
    success: bool
    final_score: float
    extras: dict


def _column(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name).combine_chunks()
    if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
        n = len(col)
        return np.asarray(col.flatten().to_numpy(zero_copy_only=False)).reshape(n, -1)
    return col.to_numpy(zero_copy_only=False)


class LeRobotDatasetReader:
    """Read a LeRobotDataset v3.0 directory.

    Args:
        root: dataset directory (with ``meta/info.json``).
        cache_episodes: how many episodes' decoded frames (all cameras) to keep in memory.

    Attributes:
        info: ``meta/info.json``. stats: feature -> stat -> array. tasks: task strings by task_index.
        cameras: camera names (``top``, ...), in feature order. fps: frame rate.
        states, actions: ``(N, D)`` float32. episode_index, frame_index, task_index: ``(N,)`` int64.
        timestamp: ``(N,)`` float32. intervention, done: ``(N,)`` bool. reward: ``(N,)`` float32.
    """

    def __init__(self, root: str | Path, cache_episodes: int = 4):
        self.root = Path(root)
        if (self.root / "staging" / "finalize").exists():
            recover_finalize(self.root)
        if not (self.root / INFO_PATH).exists():
            raise FileNotFoundError(
                f"{self.root} is not a LeRobotDataset: {INFO_PATH} is missing (was finalize() run?)"
            )
        self.info: dict = read_json(self.root / INFO_PATH)
        version = self.info.get("codebase_version")
        if version != CODEBASE_VERSION:
            raise ValueError(
                f"{self.root}: codebase_version {version!r} is not supported, expected {CODEBASE_VERSION!r}"
            )
        self.fps: int = int(self.info["fps"])
        self.features: dict = self.info["features"]
        self.video_keys = [k for k, f in self.features.items() if f["dtype"] == "video"]
        self.cameras = [k[len(IMAGE_PREFIX) :] if k.startswith(IMAGE_PREFIX) else k for k in self.video_keys]
        stats_path = self.root / STATS_PATH
        self.stats: dict[str, Stats] = stats_from_json(read_json(stats_path)) if stats_path.exists() else {}
        task_df = pd.read_parquet(self.root / TASKS_PATH)
        self.tasks: list[str] = [str(t) for t in task_df.sort_values("task_index").index]

        ep_files = sorted((self.root / "meta" / "episodes").glob("*/*.parquet"))
        eps = pa.concat_tables([pq.read_table(p) for p in ep_files]).to_pylist()
        eps.sort(key=lambda r: r["episode_index"])
        if [r["episode_index"] for r in eps] != list(range(len(eps))):
            raise ValueError(f"{self.root}: episode_index in meta/episodes is not 0..{len(eps) - 1}")
        self._ep_rows = eps

        data_files = sorted((self.root / "data").glob("*/*.parquet"))
        if not data_files:
            raise FileNotFoundError(f"{self.root}/data holds no parquet file")
        table = pa.concat_tables([pq.read_table(p) for p in data_files])
        order = np.argsort(_column(table, "index"), kind="stable")
        self.index = _column(table, "index")[order].astype(np.int64)
        if not np.array_equal(self.index, np.arange(len(self.index))):
            raise ValueError(f"{self.root}: the 'index' column is not 0..{len(self.index) - 1}")
        self.states = _column(table, STATE)[order].astype(np.float32)
        self.actions = _column(table, ACTION)[order].astype(np.float32)
        self.episode_index = _column(table, "episode_index")[order].astype(np.int64)
        self.frame_index = _column(table, "frame_index")[order].astype(np.int64)
        self.task_index = _column(table, "task_index")[order].astype(np.int64)
        self.timestamp = _column(table, "timestamp")[order].astype(np.float32)
        n = len(self.index)
        names = set(table.column_names)
        self.intervention = (
            _column(table, INTERVENTION)[order].astype(bool) if INTERVENTION in names else np.zeros(n, bool)
        )
        self.reward = _column(table, REWARD)[order].astype(np.float32) if REWARD in names else np.zeros(n, np.float32)
        self.done = _column(table, DONE)[order].astype(bool) if DONE in names else np.zeros(n, bool)

        base = {
            "episode_index",
            "tasks",
            "length",
            "source",
            "success",
            "final_score",
            "dataset_from_index",
            "dataset_to_index",
        }
        self.episodes: list[EpisodeMeta] = []
        for r in eps:
            task = r["tasks"][0] if r["tasks"] else ""
            extras = {k: v for k, v in r.items() if k not in base and "/" not in k}
            self.episodes.append(
                EpisodeMeta(
                    episode_index=r["episode_index"],
                    task=task,
                    task_index=self.tasks.index(task) if task in self.tasks else -1,
                    length=r["length"],
                    from_index=r["dataset_from_index"],
                    to_index=r["dataset_to_index"],
                    source=r.get("source") or "demo",
                    success=bool(r.get("success", False)),
                    final_score=float(r.get("final_score") or 0.0),
                    extras=extras,
                )
            )
            if r["dataset_to_index"] - r["dataset_from_index"] != r["length"]:
                raise ValueError(f"{self.root}: episode {r['episode_index']} length disagrees with its index range")
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self.cache_episodes = max(1, cache_episodes)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 (hex) of what this collection recorded: every frame's episode, index, state and action,
        and the name and size of every video file.

        Two collections that differ anywhere, even in one episode, differ here, so results and caches
        (resized frames, latents) record it and are not mixed up across collections at the same path.
        """
        digest = hashlib.sha256()
        for column in (self.episode_index, self.frame_index, self.states, self.actions):
            digest.update(np.ascontiguousarray(column).tobytes())
        for video in sorted((self.root / "videos").rglob("*.mp4")):
            digest.update(f"{video.relative_to(self.root).as_posix()}:{video.stat().st_size};".encode())
        return digest.hexdigest()

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return len(self.index)

    @property
    def resolution(self) -> tuple[int, int]:
        """(height, width) of the first camera's video, from ``meta/info.json``."""
        shape = self.features[self.video_keys[0]]["shape"]
        return int(shape[0]), int(shape[1])

    def episode_slice(self, ep: int) -> slice:
        """Rows of episode ``ep`` in the per-frame arrays."""
        m = self.episodes[ep]
        return slice(m.from_index, m.to_index)

    def camera_frames(self, ep: int, camera: str) -> np.ndarray:
        """Decoded frames of one camera for episode ``ep``: ``(T, H, W, 3)`` uint8 (cached)."""
        return self.episode_frames(ep)[camera]

    def episode_frames(self, ep: int) -> dict[str, np.ndarray]:
        """Decoded frames of every camera for episode ``ep``: camera -> ``(T, H, W, 3)`` uint8 (cached)."""
        idx = np.arange(self._check_episode(ep).length)
        self._ensure(ep, idx)
        return {cam: arr for cam, (arr, _) in self._cache[ep].items()}

    def frames_at(self, ep: int, indices: np.ndarray) -> np.ndarray:
        """Frames ``indices`` (within episode ``ep``) of every camera: ``(n, V, H, W, 3)`` uint8, a fresh array.

        Only the frame ranges not decoded yet are decoded (windows of one episode share them).
        """
        idx = np.asarray(indices, np.int64)
        m = self._check_episode(ep)
        if idx.size and (idx.min() < 0 or idx.max() >= m.length):
            raise IndexError(f"frame indices must be in [0, {m.length}) for episode {ep}, got {idx.min()}..{idx.max()}")
        self._ensure(ep, idx)
        first = self._cache[ep][self.cameras[0]][0]
        out = np.empty((idx.size, len(self.cameras), *first.shape[1:]), np.uint8)
        for v, cam in enumerate(self.cameras):
            out[:, v] = self._cache[ep][cam][0][idx]
        return out

    def _check_episode(self, ep: int) -> EpisodeMeta:
        if not 0 <= ep < self.num_episodes:
            raise IndexError(f"episode {ep} out of range: the dataset has {self.num_episodes} episodes")
        return self.episodes[ep]

    def _ensure(self, ep: int, idx: np.ndarray, merge_gap: int = 16) -> None:
        """Decode the missing frames among ``idx`` of every camera (contiguous runs, small gaps merged)."""
        if ep in self._cache:
            self._cache.move_to_end(ep)
        else:
            self._cache[ep] = {}
            while len(self._cache) > self.cache_episodes:
                self._cache.popitem(last=False)
        entry, row, length = self._cache[ep], self._ep_rows[ep], self.episodes[ep].length
        for cam, key in zip(self.cameras, self.video_keys, strict=True):
            arr, seen = entry.get(cam, (None, np.zeros(length, bool)))
            missing = np.unique(idx[~seen[idx]]) if idx.size else idx
            if missing.size == 0:
                continue
            path = self.root / self.info["video_path"].format(
                video_key=key, chunk_index=row[f"videos/{key}/chunk_index"], file_index=row[f"videos/{key}/file_index"]
            )
            start = float(row[f"videos/{key}/from_timestamp"])
            breaks = np.flatnonzero(np.diff(missing) > merge_gap)
            for lo, hi in zip(np.r_[0, breaks + 1], np.r_[breaks, missing.size - 1], strict=True):
                a, b = int(missing[lo]), int(missing[hi]) + 1
                part = decode_range(path, start + a / self.fps, b - a, self.fps)
                if arr is None:
                    arr = np.empty((length, *part.shape[1:]), np.uint8)
                arr[a:b] = part
                seen[a:b] = True
            entry[cam] = (arr, seen)

    def load_episode(self, ep: int) -> Episode:
        """Episode ``ep`` as an in-memory :class:`Episode` (decoded images, per-frame arrays, metadata)."""
        m, sl = self.episodes[ep], self.episode_slice(ep)
        return Episode(
            task=m.task,
            states=self.states[sl].copy(),
            actions=self.actions[sl].copy(),
            images={c: f.copy() for c, f in self.episode_frames(ep).items()},
            intervention=self.intervention[sl].copy(),
            source=m.source,
            success=m.success,
            final_score=m.final_score,
            rewards=self.reward[sl].copy(),
            extras={k: v for k, v in m.extras.items() if k != "episode_id"},
        )

    def normalizer(self, modes: dict[str, str] | None = None) -> Normalizer:
        """Normaliser over this dataset's stats; default: state and action to [-1, 1] by q01/q99."""
        return Normalizer(self.stats, modes or {STATE: "quantile", ACTION: "quantile"})

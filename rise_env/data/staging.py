"""Crash-safe per-episode staging: each finished episode lands in ``staging/episodes/ep-XXXXXXXX/`` at once.

An episode is encoded into a private temporary directory (``staging/tmp/``), flushed to disk and
renamed into place, so a staged episode is either complete or absent. Several processes may stage
different episode ids concurrently. ``clean_partial()`` (called by the single coordinating process
before workers start) removes what a killed process left in ``staging/tmp/``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rise_env.data.episode import Episode, validate_episode
from rise_env.data.layout import ACTION, DONE, INTERVENTION, REWARD, STAGING_DIR, STATE, DatasetConfig
from rise_env.data.stats import image_stats, stats_to_json
from rise_env.data.video import encode_video
from rise_env.utils.atomic import atomic_write_json, fsync_dir, fsync_tree, read_json, rmtree

FRAMES_FILE = "frames.parquet"
META_FILE = "episode.json"


def frames_table(ep: Episode, fps: int) -> pa.Table:
    """Per-frame columns of a validated episode (without the dataset-wide indices)."""
    t, dim = ep.states.shape
    done = np.zeros(t, bool)
    done[-1] = True
    vec = pa.list_(pa.float32(), dim)
    return pa.table(
        {
            "timestamp": pa.array((np.arange(t) / fps).astype(np.float32)),
            "frame_index": pa.array(np.arange(t, dtype=np.int64)),
            STATE: pa.FixedSizeListArray.from_arrays(pa.array(ep.states.reshape(-1)), type=vec),
            ACTION: pa.FixedSizeListArray.from_arrays(pa.array(ep.actions.reshape(-1)), type=vec),
            INTERVENTION: pa.array(ep.intervention),
            REWARD: pa.array(ep.rewards),
            DONE: pa.array(done),
        }
    )


class StagingArea:
    """The ``staging/`` directory of a dataset root.

    Args:
        root: dataset root directory.
        cfg: layout of the dataset; the first opener records it in ``staging/config.json`` and
            later openers must pass an equal one (a resume cannot change resolution, fps, ...).
    """

    def __init__(self, root: Path, cfg: DatasetConfig):
        self.root = Path(root)
        self.dir = self.root / STAGING_DIR
        self.cfg = cfg
        (self.dir / "episodes").mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        cfg_path = self.dir / "config.json"
        mine = cfg.model_dump(mode="json")
        if cfg_path.exists():
            theirs = read_json(cfg_path)
            if theirs != mine:
                diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                raise ValueError(
                    f"{self.root} was started with a different dataset configuration (fields {diff} differ); "
                    f"use the same settings to resume, or a new output directory"
                )
        else:
            atomic_write_json(cfg_path, mine)

    def episode_dir(self, episode_id: int) -> Path:
        return self.dir / "episodes" / f"ep-{episode_id:08d}"

    def ids(self) -> list[int]:
        """Ids of the completely staged episodes, sorted."""
        out = []
        for p in (self.dir / "episodes").iterdir():
            if p.is_dir() and p.name.startswith("ep-") and p.name[3:].isdigit():
                out.append(int(p.name[3:]))
        return sorted(out)

    def has(self, episode_id: int) -> bool:
        return self.episode_dir(episode_id).is_dir()

    def meta(self, episode_id: int) -> dict:
        """The staged ``episode.json`` (task, length, source, success, final_score, extras, image stats)."""
        return read_json(self.episode_dir(episode_id) / META_FILE)

    def clean_partial(self) -> int:
        """Remove temporary directories left by killed writers; returns how many were removed.

        Only call this while no other process is staging into this root.
        """
        n = 0
        for p in (self.dir / "tmp").iterdir():
            rmtree(p) if p.is_dir() else p.unlink()
            n += 1
        return n

    def stage(self, episode_id: int, episode: Episode, overwrite: bool = False) -> Path:
        """Validate, encode and atomically stage one finished episode under ``episode_id``.

        Raises:
            EpisodeError: bad features (see :func:`validate_episode`).
            FileExistsError: ``episode_id`` is already staged and ``overwrite`` is False.
        """
        if not isinstance(episode_id, (int, np.integer)) or episode_id < 0:
            raise ValueError(f"episode_id must be a non-negative int, got {episode_id!r}")
        episode_id = int(episode_id)
        final = self.episode_dir(episode_id)
        if final.exists() and not overwrite:
            raise FileExistsError(f"episode {episode_id} is already staged at {final}")
        ep = validate_episode(episode, self.cfg)
        tmp = self.dir / "tmp" / f"ep-{episode_id:08d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            pq.write_table(frames_table(ep, self.cfg.fps), tmp / FRAMES_FILE)
            img_stats = {}
            for cam in self.cfg.cameras:
                encode_video(tmp / f"{cam}.mp4", ep.images[cam], self.cfg.fps, self.cfg.video)
                img_stats[cam] = stats_to_json({cam: image_stats(ep.images[cam])})[cam]
            meta = {
                "episode_id": episode_id,
                "task": ep.task,
                "length": ep.length,
                "source": ep.source,
                "success": ep.success,
                "final_score": ep.final_score,
                "extras": ep.extras,
                "image_stats": img_stats,
            }
            atomic_write_json(tmp / META_FILE, meta)
            fsync_tree(tmp)
            if final.exists():
                trash = self.dir / "tmp" / f"old-{final.name}-{uuid.uuid4().hex[:8]}"
                os.rename(final, trash)
                rmtree(trash)
            os.rename(tmp, final)
            fsync_dir(final.parent)
        except BaseException:
            rmtree(tmp)
            raise
        return final

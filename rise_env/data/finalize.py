"""Consolidate staged episodes into the LeRobotDataset v3.0 files, atomically.

The new ``meta/``, ``data/`` and ``videos/`` are built under ``staging/finalize/new/``. Once they
are complete and flushed, a ``COMMITTED`` marker is written (the commit point) and the three
directories are swapped in by renames. A crash before the marker leaves the old dataset untouched
(the half-built tree is discarded next time); a crash after it is rolled forward by
:func:`recover_finalize`, which every writer and reader runs first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from rise_env.data.layout import (
    ACTION,
    CODEBASE_VERSION,
    DATA_PATH,
    DATASET_DIRS,
    DONE,
    EPISODES_PATH,
    INFO_PATH,
    INTERVENTION,
    REWARD,
    STAGING_DIR,
    STATE,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    DatasetConfig,
    build_features,
    next_chunk_file,
    video_key,
)
from rise_env.data.staging import FRAMES_FILE, StagingArea
from rise_env.data.stats import Stats, aggregate_stats, stats_from_json, stats_to_json, vector_stats
from rise_env.data.video import concat_videos, video_info
from rise_env.utils.atomic import atomic_write_json, fsync_dir, fsync_tree, read_json, rmtree

NUMERIC = (
    STATE,
    ACTION,
    INTERVENTION,
    REWARD,
    DONE,
    "timestamp",
    "frame_index",
    "episode_index",
    "index",
    "task_index",
)


@dataclass
class FinalizeReport:
    """What :func:`finalize_dataset` did."""

    episodes: int
    frames: int
    tasks: int
    data_files: int
    video_files: int
    skipped: bool


def _fin_dir(root: Path) -> Path:
    return Path(root) / STAGING_DIR / "finalize"


def recover_finalize(root: Path) -> None:
    """Finish a committed swap interrupted by a crash, or discard an uncommitted build. Idempotent."""
    fin = _fin_dir(root)
    if not fin.exists():
        return
    if not (fin / "COMMITTED").exists():
        rmtree(fin)
        return
    (fin / "old").mkdir(exist_ok=True)
    for name in DATASET_DIRS:
        new, dst, old = fin / "new" / name, Path(root) / name, fin / "old" / name
        if new.exists():
            if dst.exists():
                rmtree(old)
                os.rename(dst, old)
            os.rename(new, dst)
    fsync_dir(Path(root))
    marker = read_json(fin / "COMMITTED")
    atomic_write_json(Path(root) / STAGING_DIR / "finalized.json", marker["manifest"])
    rmtree(fin)


def _groups(sizes: list[float], limit_mb: float) -> list[list[int]]:
    """Split items (in order) into files: start a new file when the next item would reach the limit."""
    groups: list[list[int]] = []
    cur, cur_size = [], 0.0
    for i, s in enumerate(sizes):
        if cur and cur_size + s >= limit_mb * 1024**2:
            groups.append(cur)
            cur, cur_size = [], 0.0
        cur.append(i)
        cur_size += s
    if cur:
        groups.append(cur)
    return groups


def _file_indices(n_files: int, chunks_size: int) -> list[tuple[int, int]]:
    out, cf = [], (0, 0)
    for _ in range(n_files):
        out.append(cf)
        cf = next_chunk_file(*cf, chunks_size)
    return out


def _column(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name).combine_chunks()
    if pa.types.is_fixed_size_list(col.type):
        return col.values.to_numpy(zero_copy_only=False).reshape(len(col), col.type.list_size)
    return col.to_numpy(zero_copy_only=False)


def _manifest(staging: StagingArea, ids: list[int]) -> list[list]:
    return [[i, os.stat(staging.episode_dir(i) / "episode.json").st_mtime_ns] for i in ids]


def finalize_dataset(root: Path, cfg: DatasetConfig, force: bool = False, progress: bool = False) -> FinalizeReport:
    """Write the v3.0 dataset from every staged episode (ordered by episode id).

    Episode ids are mapped to contiguous ``episode_index`` 0..N-1 in id order; tasks get
    ``task_index`` in order of first appearance. Re-running without new staged episodes is a no-op
    (``skipped=True``) unless ``force``. ``progress`` shows a bar over the episodes' tables and videos.
    """
    root = Path(root)
    recover_finalize(root)
    staging = StagingArea(root, cfg)
    ids = staging.ids()
    if not ids:
        raise ValueError(f"no staged episodes under {staging.dir / 'episodes'}; nothing to finalize")
    manifest_path = staging.dir / "finalized.json"
    manifest = _manifest(staging, ids)
    if (
        not force
        and manifest_path.exists()
        and all((root / d).is_dir() for d in DATASET_DIRS)
        and read_json(manifest_path) == manifest
    ):
        info = read_json(root / INFO_PATH)
        return FinalizeReport(len(ids), info["total_frames"], info["total_tasks"], -1, -1, True)

    if (root / INFO_PATH).exists() and not manifest_path.exists():
        raise ValueError(
            f"{root} holds a dataset that was not finalized from this staging area (its staging was "
            "removed or it was written elsewhere); finalizing would replace it. Use a new directory."
        )
    fin = _fin_dir(root)
    rmtree(fin)
    new = fin / "new"
    metas = [staging.meta(i) for i in ids]
    tasks: dict[str, int] = {}
    for m in metas:
        tasks.setdefault(m["task"], len(tasks))
    lengths = [int(m["length"]) for m in metas]
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(int)

    # Per-frame tables with the dataset-wide indices.
    tables = []
    bar = tqdm(total=len(ids) * (1 + len(cfg.cameras)), desc="finalize", unit="ep", disable=not progress)
    for ep_index, (i, m) in enumerate(zip(ids, metas, strict=True)):
        t = pq.read_table(staging.episode_dir(i) / FRAMES_FILE)
        n = t.num_rows
        if n != m["length"]:
            raise ValueError(f"staged episode {i}: {FRAMES_FILE} has {n} rows, episode.json says {m['length']}")
        t = t.append_column("episode_index", pa.array(np.full(n, ep_index, np.int64)))
        t = t.append_column("index", pa.array(np.arange(starts[ep_index], starts[ep_index] + n, dtype=np.int64)))
        t = t.append_column("task_index", pa.array(np.full(n, tasks[m["task"]], np.int64)))
        tables.append(t)
        bar.update(1)
    order = [k for k in build_features(cfg) if k in tables[0].column_names]
    tables = [t.select(order) for t in tables]

    rows: list[dict] = [{"episode_index": e, "tasks": [m["task"]], "length": m["length"]} for e, m in enumerate(metas)]
    data_groups = _groups([t.nbytes for t in tables], cfg.data_files_size_in_mb)
    for (c, f), group in zip(_file_indices(len(data_groups), cfg.chunks_size), data_groups, strict=True):
        path = new / DATA_PATH.format(chunk_index=c, file_index=f)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables([tables[e] for e in group]), path)
        for e in group:
            rows[e].update(
                {
                    "data/chunk_index": c,
                    "data/file_index": f,
                    "dataset_from_index": int(starts[e]),
                    "dataset_to_index": int(starts[e + 1]),
                }
            )

    n_video_files = 0
    vinfo: dict[str, dict] = {}
    for cam in cfg.cameras:
        key = video_key(cam)
        srcs = [staging.episode_dir(i) / f"{cam}.mp4" for i in ids]
        groups = _groups([float(p.stat().st_size) for p in srcs], cfg.video_files_size_in_mb)
        for (c, f), group in zip(_file_indices(len(groups), cfg.chunks_size), groups, strict=True):
            path = new / VIDEO_PATH.format(video_key=key, chunk_index=c, file_index=f)
            path.parent.mkdir(parents=True, exist_ok=True)
            spans = concat_videos([srcs[e] for e in group], [lengths[e] for e in group], path, cfg.fps)
            for e, (t0, t1) in zip(group, spans, strict=True):
                rows[e].update(
                    {
                        f"videos/{key}/chunk_index": c,
                        f"videos/{key}/file_index": f,
                        f"videos/{key}/from_timestamp": t0,
                        f"videos/{key}/to_timestamp": t1,
                    }
                )
            n_video_files += 1
            bar.update(len(group))
            vinfo.setdefault(key, video_info(path))

    # Statistics: per episode (flattened into the episodes table) and for the whole dataset.
    ep_stats: list[dict[str, Stats]] = []
    for t, m in zip(tables, metas, strict=True):
        st = {k: vector_stats(_column(t, k)) for k in NUMERIC}
        st.update({video_key(cam): stats_from_json({cam: m["image_stats"][cam]})[cam] for cam in cfg.cameras})
        ep_stats.append(st)
    full = pa.concat_tables(tables)
    stats = {k: vector_stats(_column(full, k)) for k in NUMERIC}
    for cam in cfg.cameras:
        stats[video_key(cam)] = aggregate_stats([s[video_key(cam)] for s in ep_stats])

    extra_keys = sorted({k for m in metas for k in m["extras"]})
    for e, (row, m, st) in enumerate(zip(rows, metas, ep_stats, strict=True)):
        for feat, fst in stats_to_json(st).items():
            row.update({f"stats/{feat}/{k}": v for k, v in fst.items()})
        row.update({"source": m["source"], "success": bool(m["success"]), "final_score": float(m["final_score"])})
        row.update({k: m["extras"].get(k) for k in extra_keys})
        row["episode_id"] = ids[e]
    # One episodes file holds every row (a few kB per episode); the path keeps the chunk/file form.
    for row in rows:
        row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
    path = new / EPISODES_PATH.format(chunk_index=0, file_index=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)

    task_df = pd.DataFrame({"task_index": list(tasks.values())}, index=pd.Index(list(tasks), name="task"))
    task_df.to_parquet(new / TASKS_PATH)
    atomic_write_json(new / STATS_PATH, stats_to_json(stats))
    total = int(starts[-1])
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": cfg.robot.name,
        "total_episodes": len(ids),
        "total_frames": total,
        "total_tasks": len(tasks),
        "chunks_size": cfg.chunks_size,
        "data_files_size_in_mb": cfg.data_files_size_in_mb,
        "video_files_size_in_mb": cfg.video_files_size_in_mb,
        "fps": cfg.fps,
        "splits": {"train": f"0:{len(ids)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": build_features(cfg, vinfo),
    }
    atomic_write_json(new / INFO_PATH, info)
    bar.close()
    fsync_tree(new)
    atomic_write_json(fin / "COMMITTED", {"dirs": list(DATASET_DIRS), "manifest": manifest})
    recover_finalize(root)
    return FinalizeReport(len(ids), total, len(tasks), len(data_groups), n_video_files, False)

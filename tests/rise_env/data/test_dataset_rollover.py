"""File rollover at tiny size limits: several data/video files and chunk directories, read back intact."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq

from rise_env.data import LeRobotDatasetReader, LeRobotDatasetWriter


def test_rollover_across_files_and_chunks(tmp_path, dsutil):
    root = tmp_path / "ds"
    cfg = dsutil.small_config(data_files_size_in_mb=0.003, video_files_size_in_mb=0.004, chunks_size=2)
    w = LeRobotDatasetWriter(root, cfg)
    episodes = [dsutil.make_episode(n, i) for i, n in enumerate([12, 9, 15, 7, 11])]
    for ep in episodes:
        w.add_episode(ep)
    rep = w.finalize()
    data_files = sorted(p.relative_to(root).as_posix() for p in (root / "data").rglob("*.parquet"))
    assert len(data_files) == rep.data_files >= 3
    assert "data/chunk-001/file-000.parquet" in data_files  # chunks_size=2: third file opens chunk-001
    top_files = sorted((root / "videos/observation.images.top").rglob("*.mp4"))
    assert len(top_files) >= 2
    info = json.loads((root / "meta/info.json").read_text())
    assert info["data_files_size_in_mb"] == 0.003 and info["chunks_size"] == 2

    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    for row in eps:  # every episode's rows are in the file it points at, at its index range
        path = root / info["data_path"].format(chunk_index=row["data/chunk_index"], file_index=row["data/file_index"])
        idx = pq.read_table(path, columns=["index", "episode_index"]).to_pandas()
        mine = idx[idx.episode_index == row["episode_index"]]
        assert mine["index"].tolist() == list(range(row["dataset_from_index"], row["dataset_to_index"]))
    starts = [row["videos/observation.images.top/from_timestamp"] for row in eps]
    assert 0.0 in starts[1:], "a new video file starts its first episode at t=0"

    r = LeRobotDatasetReader(root)
    assert r.num_frames == sum(ep.length for ep in episodes)
    for e, ep in enumerate(episodes):
        np.testing.assert_array_equal(r.states[r.episode_slice(e)], ep.states)
        for cam in ("top", "right_wrist"):
            np.testing.assert_array_equal(dsutil.frame_ids(r.camera_frames(e, cam)), np.arange(ep.length))

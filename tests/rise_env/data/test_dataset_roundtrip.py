"""Write -> read round trip of every feature, metadata file and statistic."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rise_env.data import LeRobotDatasetReader, Normalizer
from rise_env.data.layout import QUANTILES


@pytest.fixture(scope="module")
def loaded(written_dataset):
    root, episodes = written_dataset
    return root, episodes, LeRobotDatasetReader(root)


def test_counts_indices_and_timestamps(loaded):
    root, episodes, r = loaded
    lengths = [ep.length for ep in episodes]
    assert r.num_episodes == len(episodes)
    assert r.num_frames == sum(lengths)
    np.testing.assert_array_equal(r.index, np.arange(sum(lengths)))
    np.testing.assert_array_equal(r.episode_index, np.repeat(np.arange(len(lengths)), lengths))
    np.testing.assert_array_equal(r.frame_index, np.concatenate([np.arange(n) for n in lengths]))
    np.testing.assert_allclose(r.timestamp, r.frame_index / 30.0, atol=1e-6)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for e, m in enumerate(r.episodes):
        assert (m.from_index, m.to_index, m.length) == (starts[e], starts[e + 1], lengths[e])


def test_vectors_flags_rewards_and_metadata_exact(loaded):
    _, episodes, r = loaded
    for e, ep in enumerate(episodes):
        sl = r.episode_slice(e)
        np.testing.assert_array_equal(r.states[sl], ep.states)
        np.testing.assert_array_equal(r.actions[sl], ep.actions)
        np.testing.assert_array_equal(r.intervention[sl], ep.intervention)
        expected_reward = np.zeros(ep.length, np.float32)
        expected_reward[-1] = 1.0 if ep.success else -1.0
        np.testing.assert_array_equal(r.reward[sl], expected_reward)
        assert r.done[sl].tolist() == [False] * (ep.length - 1) + [True]
        m = r.episodes[e]
        assert (m.task, m.source, m.success, m.final_score) == (ep.task, ep.source, ep.success, ep.final_score)
        assert m.extras["seed"] == ep.extras["seed"] and m.extras["episode_id"] == e
        assert r.tasks[m.task_index] == ep.task
        assert (r.task_index[sl] == m.task_index).all()
    assert r.tasks == ["sort the bricks", "pack the backpack", "close the box"]


def test_images_within_codec_tolerance(loaded, dsutil):
    _, episodes, r = loaded
    for e, ep in enumerate(episodes):
        back = r.load_episode(e)
        for cam, frames in ep.images.items():
            got = back.images[cam]
            assert got.shape == frames.shape and got.dtype == np.uint8
            diff = np.abs(got.astype(np.int16) - frames)
            assert diff.mean() < 3.0, (cam, diff.mean())
            np.testing.assert_array_equal(dsutil.frame_ids(got), np.arange(ep.length))


def test_meta_files_follow_v3_layout(loaded):
    root, episodes, r = loaded
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 30
    assert info["total_episodes"] == 4 and info["total_tasks"] == 3
    assert info["total_frames"] == sum(ep.length for ep in episodes)
    assert info["splits"] == {"train": "0:4"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    feats = info["features"]
    assert feats["observation.state"]["shape"] == [14] and len(feats["action"]["names"]) == 14
    top = feats["observation.images.top"]
    assert top["dtype"] == "video" and top["shape"] == [32, 48, 3]
    assert top["info"]["video.codec"] == "h264" and top["info"]["video.pix_fmt"] == "yuv420p"
    assert (top["info"]["video.height"], top["info"]["video.width"], top["info"]["video.fps"]) == (32, 48, 30)

    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert tasks.index.name == "task" and list(tasks.columns) == ["task_index"]
    assert tasks.loc["pack the backpack", "task_index"] == 1

    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pandas()
    for col in [
        "episode_index",
        "tasks",
        "length",
        "data/chunk_index",
        "data/file_index",
        "dataset_from_index",
        "dataset_to_index",
        "meta/episodes/chunk_index",
        "meta/episodes/file_index",
        "source",
        "success",
        "final_score",
        "stats/observation.state/mean",
        "stats/observation.images.top/q99",
    ]:
        assert col in eps.columns, col
    for cam in ("top", "left_wrist", "right_wrist"):
        k = f"videos/observation.images.{cam}"
        np.testing.assert_allclose(eps[f"{k}/to_timestamp"] - eps[f"{k}/from_timestamp"], eps["length"] / 30)
    assert list(eps["tasks"].iloc[1]) == ["pack the backpack"]

    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert "observation.images.top" not in data.column_names
    vec = data.schema.field("observation.state").type
    assert pa.types.is_fixed_size_list(vec) and vec.list_size == 14 and vec.value_type == pa.float32()


def test_stats_match_numpy(loaded):
    root, episodes, r = loaded
    states = np.concatenate([ep.states for ep in episodes]).astype(np.float64)
    st = r.stats["observation.state"]
    np.testing.assert_allclose(st["mean"], states.mean(0), rtol=1e-6)
    np.testing.assert_allclose(st["std"], states.std(0), rtol=1e-6)
    np.testing.assert_allclose(st["min"], states.min(0))
    np.testing.assert_allclose(st["max"], states.max(0))
    for q in QUANTILES:
        np.testing.assert_allclose(st[f"q{round(q * 100):02d}"], np.quantile(states, q, axis=0), rtol=1e-6)
    assert st["count"].tolist() == [len(states)]
    acts = np.concatenate([ep.actions for ep in episodes])
    np.testing.assert_allclose(r.stats["action"]["q50"], np.median(acts, 0), rtol=1e-5)
    img = r.stats["observation.images.top"]
    assert img["mean"].shape == (3, 1, 1) and img["q01"].shape == (3, 1, 1)
    assert 0.0 <= img["min"].min() and img["max"].max() <= 1.0
    raw = np.concatenate([ep.images["top"] for ep in episodes]).reshape(-1, 3) / 255.0
    np.testing.assert_allclose(img["mean"].ravel(), raw.mean(0), atol=0.02)
    assert r.stats["intervention"]["mean"].shape == (1,)

    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pandas()
    np.testing.assert_allclose(
        np.stack(eps["stats/observation.state/mean"].iloc[1]), episodes[1].states.mean(0), rtol=1e-6
    )


def test_normalizer_modes(loaded):
    _, _, r = loaded
    norm = r.normalizer()
    x = r.states[:50]
    y = norm.normalize("observation.state", x)
    np.testing.assert_allclose(norm.unnormalize("observation.state", y), x, atol=1e-5)
    q01, q99 = r.stats["observation.state"]["q01"], r.stats["observation.state"]["q99"]
    np.testing.assert_allclose(norm.normalize("observation.state", q99.astype(np.float32)), 1.0, atol=1e-5)
    np.testing.assert_allclose(norm.normalize("observation.state", q01.astype(np.float32)), -1.0, atol=1e-5)
    import torch

    mm = Normalizer(r.stats, {"action": "min_max", "observation.state": "mean_std"})
    t = mm.normalize("action", torch.from_numpy(r.actions))
    assert isinstance(t, torch.Tensor) and float(t.min()) >= -1 - 1e-5 and float(t.max()) <= 1 + 1e-5
    with pytest.raises(ValueError, match="must be one of"):
        Normalizer(r.stats, {"action": "zscore"})
    with pytest.raises(KeyError, match="no statistics"):
        Normalizer(r.stats, {"velocity": "mean_std"})

"""Dynamics windows (frame indices at 15 Hz, padding) and value samples (progress, terminal reward)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rise_env.data import SOURCES, DynamicsWindowDataset, LeRobotDatasetReader, ValueSampleDataset, WindowConfig
from rise_env.data.windows import window_indices


@pytest.fixture(scope="module")
def reader(written_dataset):
    return LeRobotDatasetReader(written_dataset[0], cache_episodes=2)


def test_window_indices_at_15hz():
    cfg = WindowConfig()
    ix = window_indices(10, 200, cfg)
    assert ix["memory"].tolist() == [4, 6, 8, 10]
    assert ix["actions"].tolist() == list(range(10, 60)) and not ix["action_is_pad"].any()
    assert ix["future"].tolist() == list(range(12, 61, 2)) and len(ix["future"]) == 25
    start = window_indices(3, 200, cfg)
    assert start["memory"].tolist() == [0, 0, 1, 3]  # first frame repeats at the episode start
    end = window_indices(180, 200, cfg)
    assert end["actions"][-1] == 199 and end["action_is_pad"].sum() == 30
    assert end["future"][-1] == 199 and end["future_is_pad"].tolist() == [False] * 9 + [True] * 16
    other = window_indices(9, 100, WindowConfig(memory_frames=3, memory_stride=3, chunk=8, future_stride=4))
    assert other["memory"].tolist() == [3, 6, 9] and other["future"].tolist() == [13, 17]
    with pytest.raises(IndexError):
        window_indices(5, 5, cfg)


def test_dynamics_items_hold_the_right_frames(reader, written_dataset, dsutil):
    _, episodes = written_dataset
    ds = DynamicsWindowDataset(reader)
    assert len(ds) == reader.num_frames
    i = int(np.flatnonzero((ds.sample_episode_index == 1) & (ds.sample_frame_index == 7))[0])
    item = ds[i]
    assert item["memory_frames"].shape == (4, 3, 32, 48, 3) and item["memory_frames"].dtype == torch.uint8
    assert item["future_frames"].shape == (25, 3, 32, 48, 3)
    assert item["actions"].shape == (50, 14) and item["actions"].dtype == torch.float32
    assert item["memory_index"].tolist() == [1, 3, 5, 7]
    for v in range(3):  # every view shows the indexed frame
        assert dsutil.frame_ids(item["memory_frames"][:, v].numpy()).tolist() == [1, 3, 5, 7]
        assert dsutil.frame_ids(item["future_frames"][:, v].numpy()).tolist() == item["future_index"].tolist()
    length = episodes[1].length  # 33: future frames past 32 repeat the last one
    assert item["future_index"].tolist()[:13] == list(range(9, 34, 2))[:12] + [32]
    assert item["future_is_pad"].sum() == 25 - 12
    np.testing.assert_array_equal(item["actions"][: length - 7].numpy(), episodes[1].actions[7:])
    np.testing.assert_array_equal(
        item["actions"][length - 7 :].numpy(), np.repeat(episodes[1].actions[-1:], 50 - length + 7, 0)
    )
    assert item["action_is_pad"].sum() == 50 - (length - 7)
    np.testing.assert_array_equal(item["state"].numpy(), episodes[1].states[7])
    assert int(item["task_index"]) == 1 and int(item["episode_index"]) == 1
    assert torch.equal(ds.future_frames(i), item["future_frames"])  # what the VAE trains on, read alone
    j = int(np.flatnonzero((ds.sample_episode_index == 0) & (ds.sample_frame_index == 0))[0])
    assert ds[j]["memory_index"].tolist() == [0, 0, 0, 0]
    assert dsutil.frame_ids(ds[j]["memory_frames"][:, 0].numpy()).tolist() == [0, 0, 0, 0]


def test_future_frames_later_reads_the_frames_that_much_later_and_holds_the_episode_end(reader, dsutil):
    ds = DynamicsWindowDataset(reader)
    i = int(np.flatnonzero((ds.sample_episode_index == 1) & (ds.sample_frame_index == 7))[0])
    future_index = ds[i]["future_index"].numpy()  # 9, 11, ..., 31, then 32 (the last frame) repeated
    for later in (1, 2):
        early = ds.future_frames(i, later=later)
        assert early.shape == (25, 3, 32, 48, 3)
        ids = dsutil.frame_ids(early[:, 0].numpy())
        assert ids.tolist() == np.minimum(future_index + later, 32).tolist()
    assert dsutil.frame_ids(ds.future_frames(i, later=1)[:3, 0].numpy()).tolist() == [10, 12, 14]
    assert dsutil.frame_ids(ds.future_frames(i, later=2)[-1:, 0].numpy()).tolist() == [32]  # past the end: held
    last = int(np.flatnonzero((ds.sample_episode_index == 1) & (ds.sample_frame_index == 32))[0])
    assert dsutil.frame_ids(ds.future_frames(last, later=5)[:, 0].numpy()).tolist() == [32] * 25
    with pytest.raises(ValueError, match="later must be >= 0"):
        ds.future_frames(i, later=-1)


def test_no_end_padding_option(reader):
    ds = DynamicsWindowDataset(reader, WindowConfig(chunk=10, future_stride=2, pad_end=False))
    lengths = [m.length for m in reader.episodes]
    assert len(ds) == sum(n - 10 for n in lengths)
    assert not any(ds[i]["future_is_pad"].any() or ds[i]["action_is_pad"].any() for i in range(0, len(ds), 7))


def test_value_samples(reader, written_dataset, dsutil):
    _, episodes = written_dataset
    vs = ValueSampleDataset(reader)
    assert len(vs) == reader.num_frames
    for e, ep in enumerate(episodes):
        idx = np.flatnonzero(vs.sample_episode_index == e)
        first, last = vs[int(idx[0])], vs[int(idx[-1])]
        assert float(first["progress"]) == 0.0
        assert float(last["progress"]) == pytest.approx((ep.length - 1) / ep.length)
        assert float(last["reward"]) == (1.0 if ep.success else -1.0) and bool(last["done"])
        assert float(first["reward"]) == 0.0 and not bool(first["done"])
        assert bool(first["success"]) == ep.success and SOURCES[int(first["source"])] == ep.source
        assert first["obs"].shape == (3, 32, 48, 3)
        assert dsutil.frame_ids(first["next_obs"].numpy()).tolist() == [1, 1, 1]
        assert dsutil.frame_ids(last["next_obs"].numpy()).tolist() == [ep.length - 1] * 3
    rewards = np.array([float(vs[i]["reward"]) for i in range(len(vs))])
    assert (rewards != 0).sum() == len(episodes)


def test_frames_at_decodes_only_the_needed_ranges(written_dataset, dsutil):
    r = LeRobotDatasetReader(written_dataset[0], cache_episodes=1)
    got = r.frames_at(3, np.array([2, 3, 39, 40]))
    assert got.shape == (4, 3, 32, 48, 3)
    assert dsutil.frame_ids(got).tolist() == [[2] * 3, [3] * 3, [39] * 3, [40] * 3]
    decoded = r._cache[3]["top"][1]
    assert 4 <= decoded.sum() < r.episodes[3].length  # two short runs, not the whole 41-frame episode
    full = r.episode_frames(3)["top"]  # fills the rest; earlier frames are reused
    assert dsutil.frame_ids(full).tolist() == list(range(41))
    r.frames_at(0, np.array([0]))  # cache of one episode: episode 3 is evicted
    assert list(r._cache) == [0]
    with pytest.raises(IndexError, match=r"\[0, 20\)"):
        r.frames_at(0, np.array([20]))

"""RECAP labels and the self-improving loop on tiny models: labels, batch mixing, ablations, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rise_agents.algos.config import get_train_config
from rise_agents.algos.labels import label_dataset, load_or_label
from rise_agents.algos.online_data import OnlineBuffer
from rise_agents.algos.recap import RECAP
from rise_agents.algos.recap_online import RecapOnline, split_counts
from rise_agents.algos.testing import make_tiny_dataset
from rise_agents.policies import AdvantageConditionedPolicy, get_policy_config
from rise_env.assets.tiny import make_tiny_assets
from rise_env.data import LeRobotDatasetReader
from rise_env.models.value import ValueModel, get_value_config
from rise_env.spec.advantage import advantage_to_bin
from rise_env.world_model.labels import frame_advantages


class BrightnessValue:
    """Value = mean brightness of the top view / 255 (the tiny dataset brightens over time)."""

    def values(self, frames, tasks):
        assert len(tasks) == len(frames)
        return np.asarray(frames, np.float64)[:, 0].mean(axis=(1, 2, 3)) / 255.0


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("ds") / "tiny", demos=2, rollouts=2, length=24)


@pytest.fixture(scope="module")
def value_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("value") / "value"
    torch.manual_seed(0)
    ValueModel(get_value_config("tiny", task_names=("sort the bricks into the bins",))).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Tiny world model + bank (32x32, chunk 10) and a tiny policy whose chunk matches (10)."""
    root = tmp_path_factory.mktemp("assets")
    folder = make_tiny_assets(root, num_states=4)
    torch.manual_seed(0)
    cfg = get_policy_config("tiny", vla=get_policy_config("tiny").vla.model_copy(update={"action_horizon": 10}))
    AdvantageConditionedPolicy(cfg).save_pretrained(root / "policy")
    return {"world_model": str(folder / "world_model"), "initial_states": str(folder / "initial_states"),
            "init_from": str(root / "policy")}


def test_frame_advantages_follow_eq2_and_rest_at_the_end():
    values = np.linspace(0.0, 1.0, 11)  # rises 0.1 per frame
    adv = frame_advantages(values, chunk=4, stride=2, scale=1.0)
    # start 0: mean(V[2], V[4]) - V[0] = 0.3; last start: the episode rests on its final frame
    assert adv[0] == pytest.approx(0.3) and adv[-1] == pytest.approx(0.0)
    assert adv[9] == pytest.approx(0.1)  # future frames 11, 13 clipped to 10
    np.testing.assert_allclose(frame_advantages(np.full(5, 0.7)), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        frame_advantages(np.array([0.1, np.nan]))


def test_labels_give_demos_the_top_bin_and_rollouts_their_advantage(dataset):
    reader = LeRobotDatasetReader(dataset)
    labels = label_dataset(reader, BrightnessValue(), stride=1, chunk=8, scale=5.0, progress=False)
    for meta in reader.episodes:
        rows = slice(meta.from_index, meta.to_index)
        if meta.source == "demo":
            assert (labels["bin"][rows] == 10).all() and np.isnan(labels["advantage"][rows]).all()
        else:
            frames = reader.episode_frames(meta.episode_index)["top"]
            expected = frame_advantages(frames.astype(np.float64).mean(axis=(1, 2, 3)) / 255.0, chunk=8, scale=5.0)
            np.testing.assert_allclose(labels["advantage"][rows], expected, atol=1e-5)
            np.testing.assert_array_equal(labels["bin"][rows], advantage_to_bin(torch.as_tensor(expected), 10))
    rollout_bins = labels["bin"][[r for m in reader.episodes if m.source == "rollout"
                                  for r in range(m.from_index, m.to_index)]]
    assert rollout_bins.min() >= 1 and rollout_bins.max() > rollout_bins.min()  # brightening → varied positive bins


def test_labels_are_cached_and_redone_for_another_value_model(dataset, value_dir, tmp_path):
    reader = LeRobotDatasetReader(dataset)
    first = load_or_label(tmp_path, reader, value_dir, progress=False, stride=4, chunk=8)
    stamp = (tmp_path / "advantage_labels.safetensors").stat().st_mtime_ns
    again = load_or_label(tmp_path, reader, value_dir, progress=False, stride=4, chunk=8)
    assert (tmp_path / "advantage_labels.safetensors").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first["bin"], again["bin"])
    load_or_label(tmp_path, reader, value_dir, progress=False, stride=2, chunk=8)  # other inputs → relabelled
    assert (tmp_path / "advantage_labels.safetensors").stat().st_mtime_ns != stamp


def test_recap_trains_on_all_sources_with_value_bins(dataset, value_dir, tmp_path):
    cfg = get_train_config("recap", "tiny", data=str(dataset), out=str(tmp_path / "run"), value_model=str(value_dir),
                           steps=4, checkpoint_every=4)
    algo = RECAP(cfg, progress=False)
    sources = {algo.reader.episodes[e].source for e in algo.dataset.episodes}
    assert sources == {"demo", "rollout"}
    summary = json.loads((tmp_path / "run" / "labels.json").read_text())
    assert summary["demo"]["mean_bin"] == 10.0 and 1.0 <= summary["rollout"]["mean_bin"] <= 10.0
    algo.train()
    assert (tmp_path / "run" / "policy" / "config.json").is_file()


def test_split_counts_follow_the_offline_ratio():
    assert split_counts(64, 0.6, True) == (38, 26)
    assert split_counts(10, 0.6, True) == (6, 4)
    assert split_counts(10, 0.0, True) == (0, 10) and split_counts(10, 1.0, True) == (10, 0)
    assert split_counts(10, 0.6, False) == (10, 0)  # nothing online yet: all offline


def _online(assets, out, **kw):
    values = dict(assets, out=str(out), steps=8, steps_per_stage=4, rollout_slots=2, batch_size=5,
                  offline_ratio=0.6, checkpoint_every=4, eval_trials=0)
    return RecapOnline(get_train_config("recap-online", "tiny", **{**values, **kw}), progress=False)


def test_loop_mixes_offline_and_online_samples_as_configured(assets, tmp_path):
    algo = _online(assets, tmp_path / "run")
    batch = algo.next_batch(1)  # runs rollout stage 0 first
    assert len(algo.buffer) == 2 * 2  # 2 slots x 2 chained chunks
    off, on = algo.batch_ids(1)
    assert (len(off), len(on)) == (3, 2) and len(batch["advantage_bin"]) == 5
    np.testing.assert_array_equal(batch["advantage_bin"][:3], 10)  # bank samples: demos, top bin
    np.testing.assert_array_equal(batch["advantage_bin"][3:], algo.buffer.bins[on])
    assert set(algo.buffer.bins.tolist()) <= set(range(1, 11))
    assert sorted(set(algo.buffer.chunk_index.tolist())) == [0, 1]
    assert batch["top"].shape == (5, 32, 32, 3) and batch["actions"].shape == (5, 10, 14)
    log = [json.loads(line) for line in (tmp_path / "run" / "rollouts.jsonl").read_text().splitlines()]
    assert log[0]["stage"] == 0 and log[0]["online_samples"] == 4


def test_ablation_switches(assets, tmp_path):
    first_only = _online(assets, tmp_path / "a", online_state=False)
    first_only.next_batch(1)
    assert len(first_only.buffer) == 2 and set(first_only.buffer.chunk_index.tolist()) == {0}
    offline_only = _online(assets, tmp_path / "b", online_action=False)
    batch = offline_only.next_batch(1)
    assert len(offline_only.buffer) == 0 and (batch["advantage_bin"] == 10).all()
    assert offline_only.batch_ids(1)[1].size == 0


def test_loop_resumes_exactly_after_an_interruption(assets, tmp_path):
    full = _online(assets, tmp_path / "full")
    full.train()
    reference = dict(full.history)
    cut = _online(assets, tmp_path / "cut")
    cut.train(stop_after=6)  # dies after step 6: the last checkpoint is step 4 (after stage 0's rollouts)
    with pytest.raises(FileExistsError):
        _online(assets, tmp_path / "cut")
    resumed = RecapOnline(cut.cfg, resume=True, progress=False)
    assert resumed.start_step == 4 and len(resumed.buffer) == 4
    resumed.train()
    for step, loss in resumed.history:
        assert loss == pytest.approx(reference[step], rel=1e-6, abs=1e-7), step


def test_online_buffer_keeps_the_newest_samples():
    buf = OnlineBuffer(3, ("top", "left_wrist", "right_wrist"), (8, 8), horizon=2, action_dim=14, task="t")
    for n in range(2):
        obs = {c: np.full((2, 16, 16, 3), 10 * n, np.uint8) for c in ("top", "left_wrist", "right_wrist")}
        obs["state"] = np.full((2, 14), n, np.float32)
        buf.add(obs, np.full((2, 2, 14), n, np.float32), np.array([n + 1, n + 1]), chunk_index=n)
    assert len(buf) == 3 and buf.added == 4
    assert buf.state[:, 0].tolist() == [0, 1, 1] and buf.bins.tolist() == [1, 2, 2]
    assert buf.images.shape == (3, 3, 8, 8, 3)
    restored = OnlineBuffer(3, ("top", "left_wrist", "right_wrist"), (8, 8), horizon=2, action_dim=14, task="t")
    restored.load_state_dict(buf.state_dict())
    np.testing.assert_array_equal(restored.images, buf.images)
    assert restored.added == 4
    with pytest.raises(ValueError, match="expected actions"):
        buf.add(obs, np.zeros((2, 3, 14), np.float32), np.array([1, 1]), chunk_index=0)


def test_labels_are_redone_when_the_value_weights_change(dataset, value_dir, tmp_path):
    import shutil

    reader = LeRobotDatasetReader(dataset)
    folder = tmp_path / "value"
    shutil.copytree(value_dir, folder)
    load_or_label(tmp_path, reader, folder, progress=False, stride=4, chunk=8)
    stamp = (tmp_path / "advantage_labels.safetensors").stat().st_mtime_ns
    model = ValueModel.from_pretrained(folder)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    model.save_pretrained(folder)  # same folder, retrained weights
    load_or_label(tmp_path, reader, folder, progress=False, stride=4, chunk=8)
    assert (tmp_path / "advantage_labels.safetensors").stat().st_mtime_ns != stamp

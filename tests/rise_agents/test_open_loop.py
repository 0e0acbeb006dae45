"""Open-loop action error: bookkeeping against oracle and hold-the-state predictors, and the CLI's JSON."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rise_agents.algos.data import ChunkDataset
from rise_agents.algos.testing import make_tiny_dataset
from rise_agents.evaluation import open_loop
from rise_agents.policies import AdvantageConditionedPolicy, get_policy_config
from rise_env.data import LeRobotDatasetReader


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = make_tiny_dataset(tmp_path_factory.mktemp("ds") / "tiny", demos=2, rollouts=0, length=16)
    torch.manual_seed(0)
    policy = AdvantageConditionedPolicy(get_policy_config("tiny")).eval()
    vla = policy.config.vla
    ds = ChunkDataset(LeRobotDatasetReader(root), vla.camera_names, vla.vision.image_size, vla.action_horizon,
                      tmp_path_factory.mktemp("cache"))
    return root, policy, ds


def _with_predictions(policy, make):
    """The policy, its sampler replaced by ``make(batch) -> (B, H, 14)``."""
    policy.sample_actions = lambda batch, *a, **k: SimpleNamespace(actions=torch.as_tensor(make(batch)))
    return policy


def test_oracle_scores_zero_and_holding_the_state_scores_the_hold_baseline(setup):
    _, policy, ds = setup
    oracle = _with_predictions(policy, lambda b: b["actions"])
    r = open_loop.open_loop_errors(oracle, ds, samples=20, batch_size=8)
    assert r["samples"] == 20 and r["arm_mean"] == 0 and not r["per_dim"].any() and not r["along_chunk"].any()
    assert r["hold_arm_mean"] > 0
    h = policy.config.vla.action_horizon
    hold = _with_predictions(policy, lambda b: np.repeat(b["state"][:, None], h, axis=1))
    r = open_loop.open_loop_errors(hold, ds, samples=20, batch_size=8)
    np.testing.assert_allclose(r["first_action"], r["hold_first_action"], rtol=0, atol=1e-7)
    rows = ds.sample_frame[np.sort(np.random.default_rng(0).choice(len(ds), 20, replace=False))]
    direct = np.abs(ds.reader.actions[rows] - ds.reader.states[rows]).mean(axis=0)
    np.testing.assert_allclose(r["hold_first_action"], direct, rtol=1e-6)
    del policy.sample_actions


def test_padded_steps_are_left_out(setup):
    _, policy, ds = setup
    # wrong by 1 on padded steps only: the error must stay 0
    def make(b):
        return np.where(b["action_is_pad"][..., None], b["actions"] + 1.0, b["actions"])

    r = open_loop.open_loop_errors(_with_predictions(policy, make), ds, samples=len(ds), execute_steps=50)
    assert r["arm_mean"] == 0 and not r["along_chunk"].any()
    del policy.sample_actions


def test_cli_writes_per_dimension_json(setup, tmp_path, capsys):
    root, policy, _ = setup
    policy.save_pretrained(tmp_path / "policy")
    out = tmp_path / "ol.json"
    rc = open_loop.main(["--policy", str(tmp_path / "policy"), "--data", str(root), "--samples", "12",
                         "--frame-cache", str(tmp_path / "cache"), "--out", str(out)])
    assert rc == 0 and "arm joints: first action" in capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert len(payload["dims"]) == len(payload["per_dim"]) == 14 and payload["samples"] == 12
    assert len(payload["along_chunk"]) == policy.config.vla.action_horizon
    assert np.isfinite(payload["per_dim"]).all()
    assert payload["command"].startswith("python -m rise_agents.evaluation.open_loop --policy")

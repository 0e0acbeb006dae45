"""Delta actions (openpi DeltaActions): joints relative to the state, grippers absolute; stats on the deltas."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rise_agents.algos.bc import BC
from rise_agents.algos.config import get_train_config
from rise_agents.algos.data import delta_action_quantiles
from rise_agents.algos.testing import make_tiny_dataset
from rise_agents.policies import AdvantageConditionedPolicy, NormStats, get_policy_config
from rise_agents.policies.advantage_policy import joint_delta_mask
from rise_env.data import LeRobotDatasetReader
from rise_env.spec.robot import agilex_cobot_magic

MASK = joint_delta_mask()


def _obs(batch: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    obs = {k: rng.integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8) for k in ("top", "left_wrist", "right_wrist")}
    obs["state"] = rng.uniform(-0.5, 0.5, (batch, 14)).astype(np.float32)
    obs["state"][:, [6, 13]] = rng.uniform(0.0, 0.07, (batch, 2))
    return obs


def _policy(mask=MASK, clip=False) -> AdvantageConditionedPolicy:
    torch.manual_seed(0)
    q = {"q01": [-0.3] * 14, "q99": [0.3] * 14}
    cfg = get_policy_config("tiny", delta_action_mask=mask, clip_to_limits=clip)
    return AdvantageConditionedPolicy(cfg, NormStats.from_dict({"state": q, "actions": q}))


def test_mask_is_joints_relative_grippers_absolute():
    names = agilex_cobot_magic().joint_names
    assert len(MASK) == 14
    assert [n for n, m in zip(names, MASK, strict=True) if not m] == ["left_gripper", "right_gripper"]


def test_sampled_actions_are_the_network_output_plus_the_state_on_joints_only():
    policy = _policy()
    obs = _obs(3)
    h, d = policy.config.vla.action_horizon, policy.config.vla.action_dim
    noise = torch.randn(3, h, d, generator=torch.Generator().manual_seed(1))
    out = policy.sample_actions(obs, 10, noise=noise)
    raw = policy.norm_stats.actions.unnormalize(out.flow.actions[..., :14].float())
    state = torch.as_tensor(obs["state"])
    expected = raw + state[:, None] * torch.tensor(MASK, dtype=torch.float32)
    torch.testing.assert_close(out.actions, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(out.actions[..., [6, 13]], raw[..., [6, 13]], rtol=0, atol=0)


def test_training_targets_are_deltas_and_round_trip():
    policy = _policy()
    obs = _obs(2)
    state = torch.as_tensor(obs["state"])
    actions = state[:, None].repeat(1, policy.config.vla.action_horizon, 1) + 0.01
    target = policy.to_model_actions(actions, state)
    # holding the pose is the same network target whatever the pose: the delta is 0.01 on joints
    joints = torch.tensor(MASK)
    torch.testing.assert_close(target[0][:, joints], target[1][:, joints])
    torch.testing.assert_close(policy.from_model_actions(target, state), actions, rtol=0, atol=1e-6)
    absolute = _policy(mask=None)
    expected = absolute.norm_stats.actions.normalize(actions)
    torch.testing.assert_close(absolute.to_model_actions(actions, state), expected)


def test_mask_survives_save_load_and_a_wrong_length_is_refused(tmp_path):
    policy = _policy()
    policy.save_pretrained(tmp_path / "p")
    raw = json.loads((tmp_path / "p" / "config.json").read_text())
    assert raw["policy"]["delta_action_mask"] == list(MASK)
    loaded = AdvantageConditionedPolicy.from_pretrained(tmp_path / "p")
    obs, g = _obs(1), lambda: torch.Generator().manual_seed(0)
    np.testing.assert_array_equal(policy.predict_chunk(obs, generator=g()), loaded.predict_chunk(obs, generator=g()))
    with pytest.raises(ValueError, match="delta_action_mask has 13 entries; expected env_action_dim = 14"):
        _policy(mask=MASK[:13])


def test_delta_quantiles_match_a_direct_computation(tmp_path):
    root = make_tiny_dataset(tmp_path / "ds", demos=2, rollouts=0, length=12)
    reader = LeRobotDatasetReader(root)
    q01, q99 = delta_action_quantiles(reader, MASK, horizon=5)
    values = []
    for meta in reader.episodes:
        for t in range(meta.from_index, meta.to_index):
            for k in range(t, min(t + 5, meta.to_index)):
                values.append(reader.actions[k] - reader.states[t] * np.asarray(MASK))
    np.testing.assert_allclose(q01, np.quantile(values, 0.01, axis=0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(q99, np.quantile(values, 0.99, axis=0), rtol=0, atol=1e-6)
    # grippers stay absolute: their statistics are those of the actions themselves
    np.testing.assert_allclose(q99[6], np.quantile(np.asarray(values)[:, 6], 0.99), atol=1e-6)


def test_bc_with_delta_actions_builds_a_delta_policy_and_refuses_an_absolute_init(tmp_path):
    root = make_tiny_dataset(tmp_path / "ds", demos=2, rollouts=0)
    cfg = get_train_config("bc", "tiny", data=str(root), out=str(tmp_path / "run"), num_threads=1,
                           steps=2, checkpoint_every=2, delta_actions=True)
    algo = BC(cfg, progress=False)
    assert algo.policy.config.delta_action_mask == MASK
    q01, q99 = delta_action_quantiles(algo.reader, MASK, algo.policy.config.vla.action_horizon)
    widened = algo.policy.norm_stats.actions
    assert (widened.q01 <= q01 + 1e-9).all() and (widened.q99 >= q99 - 1e-9).all()
    algo.train()
    plain = get_train_config("bc", "tiny", data=str(root), out=str(tmp_path / "abs"), num_threads=1, steps=1)
    BC(plain, progress=False).train()
    bad = get_train_config("bc", "tiny", data=str(root), out=str(tmp_path / "bad"), num_threads=1, steps=1,
                           delta_actions=True, init_from=str(tmp_path / "abs" / "policy"))
    with pytest.raises(ValueError, match="predicts absolute actions"):
        BC(bad, progress=False)
    for flag in ("number_embedding_init", "continuous_state"):
        fresh_only = get_train_config("bc", "tiny", data=str(root), out=str(tmp_path / flag), num_threads=1, steps=1,
                                      init_from=str(tmp_path / "abs" / "policy"), **{flag: True})
        with pytest.raises(ValueError, match="shapes a fresh policy"):
            BC(fresh_only, progress=False)

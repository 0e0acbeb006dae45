"""Advantage-conditioned policy: env-facing prediction, normalisation, EMA, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rise_agents.policies import EMA, AdvantageConditionedPolicy, NormStats, QuantileNormalizer, get_policy_config
from rise_agents.policies import advantage_policy as ap
from rise_env.models.vla import UnknownPresetError
from rise_env.spec.robot import agilex_cobot_magic

CAMS = ("top", "left_wrist", "right_wrist")


def _obs(batch: int | None = None, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    obs = {k: rng.integers(0, 256, (*lead, 192, 256, 3), dtype=np.uint8) for k in CAMS}
    obs["state"] = rng.uniform(-0.5, 0.5, (*lead, 14)).astype(np.float32)
    return obs


def _stats() -> NormStats:
    low, high = agilex_cobot_magic().action_limits()
    q = {"q01": (low * 0.5).tolist(), "q99": (high * 0.5 + 0.01).tolist()}
    return NormStats.from_dict({"observation.state": q, "action": q})  # LeRobot feature names


def _policy(seed: int = 0, **overrides) -> AdvantageConditionedPolicy:
    torch.manual_seed(seed)
    return AdvantageConditionedPolicy(get_policy_config("tiny", **overrides), norm_stats=_stats())


def test_predict_chunk_single_and_batched_within_limits():
    policy = _policy()
    low, high = agilex_cobot_magic().action_limits()
    chunk = policy.predict_chunk(_obs(), advantage_bin=10)
    h = policy.config.vla.action_horizon
    assert chunk.shape == (h, 14) and chunk.dtype == np.float32
    assert (chunk >= low - 1e-6).all() and (chunk <= high + 1e-6).all()
    batched = policy.predict_chunk(_obs(batch=3), advantage_bin=4, task="close the box")
    assert batched.shape == (3, h, 14) and batched.dtype == np.float32


def test_quantile_normalisation_round_trip_and_clip():
    norm = QuantileNormalizer([0.0, -2.0], [1.0, 2.0])
    x = torch.tensor([[0.0, -2.0], [1.0, 2.0], [0.5, 0.0]], dtype=torch.float64)
    y = norm.normalize(x)
    assert torch.allclose(y[0], torch.tensor([-1.0, -1.0], dtype=torch.float64), atol=1e-5)
    assert torch.allclose(y[1], torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-5)
    assert torch.allclose(norm.unnormalize(y), x, atol=1e-12)
    with pytest.raises(ValueError, match="q99 < q01"):
        QuantileNormalizer([1.0], [0.0])
    with pytest.raises(ValueError, match="3 dims"):
        norm.normalize(torch.zeros(1, 3))


def test_sample_actions_sde_chain_and_noise_hook():
    policy = _policy()
    cfg = policy.config.vla
    obs = _obs(batch=2)
    noise = torch.randn(2, cfg.action_horizon, cfg.action_dim)
    a = policy.sample_actions(obs, 10, noise=noise).actions
    b = policy.sample_actions(obs, 10, noise=noise).actions
    assert torch.equal(a, b), "fixed noise → deterministic ODE actions"
    out = policy.sample_actions(obs, torch.tensor([10, 2]), mode="sde", return_chain=True, num_steps=4)
    assert out.flow.chain.shape == (2, 5, cfg.action_horizon, cfg.action_dim)
    assert out.flow.log_probs.shape == (2, 4) and torch.isfinite(out.flow.log_probs).all()
    relp = policy.vla.chain_log_probs(
        policy.to_model_inputs(obs), torch.tensor([10, 2]), out.flow.chain, out.flow.stochastic
    )
    assert torch.allclose(relp, out.flow.log_probs, rtol=1e-4, atol=1e-3)


def test_loss_on_env_batch_and_clear_errors():
    policy = _policy()
    h = policy.config.vla.action_horizon
    batch = _obs(batch=2)
    batch |= {"actions": np.zeros((2, h, 14), np.float32), "advantage_bin": [10, 0], "task": ["a", "b"]}
    loss = policy.loss(batch)
    assert loss.shape == (2,) and torch.isfinite(loss).all()
    loss.mean().backward()
    with pytest.raises(KeyError, match="advantage_bin"):
        policy.loss({k: v for k, v in batch.items() if k != "advantage_bin"})
    bad = _obs()
    del bad["left_wrist"]
    with pytest.raises(KeyError, match="left_wrist"):
        policy.predict_chunk(bad)
    with pytest.raises(ValueError, match="advantage_bin must be in 0..10"):
        policy.predict_chunk(_obs(), advantage_bin=11)
    with pytest.raises(UnknownPresetError, match="Did you mean 'cpu'"):
        get_policy_config("cpuu")


def test_ema_update_rule():
    net = torch.nn.Linear(2, 2)
    ema = EMA(net, decay=0.9)
    before = ema.module.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    assert torch.allclose(ema.module.weight, 0.9 * before + 0.1 * net.weight)
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_policy_ema_is_used_for_rollouts():
    policy = _policy()
    with torch.no_grad():
        for p in policy.vla.model.parameters():
            p.add_(0.01)
    policy.update_ema()
    obs, g = _obs(), lambda: torch.Generator().manual_seed(0)
    online = policy.predict_chunk(obs, use_ema=False, generator=g())
    rollout = policy.predict_chunk(obs, generator=g())  # default: the EMA copy
    assert not np.array_equal(online, rollout)
    assert np.array_equal(rollout, policy.predict_chunk(obs, use_ema=True, generator=g()))


@pytest.mark.parametrize("continuous_state", [False, True])
def test_save_load_round_trip_is_bit_exact(tmp_path, continuous_state):
    vla = get_policy_config("tiny").vla.model_copy(update={"continuous_state_input": continuous_state})
    policy = _policy(vla=vla.model_dump())
    assert hasattr(policy.vla.model, "state_proj") == continuous_state
    with torch.no_grad():
        for p in policy.vla.model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    policy.update_ema()
    target = tmp_path / "ckpt"
    policy.save_pretrained(target)
    assert sorted(p.name for p in target.iterdir()) == sorted(
        ["config.json", "model.safetensors", "ema.safetensors", "norm_stats.json"]
    )
    loaded = AdvantageConditionedPolicy.from_pretrained(target)
    for a, b in zip(policy.vla.model.state_dict().values(), loaded.vla.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(policy.ema.module.state_dict().values(), loaded.ema.module.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert np.array_equal(policy.norm_stats.actions.q99, loaded.norm_stats.actions.q99)
    assert loaded.config == policy.config
    obs, g = _obs(batch=2), lambda: torch.Generator().manual_seed(5)
    assert np.array_equal(policy.predict_chunk(obs, generator=g()), loaded.predict_chunk(obs, generator=g()))


def test_save_is_atomic_and_replaces_existing(tmp_path, monkeypatch):
    target = tmp_path / "ckpt"
    _policy(seed=0).save_pretrained(target)
    first = (target / "model.safetensors").read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ap, "save_weights", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        _policy(seed=1).save_pretrained(target)
    assert (target / "model.safetensors").read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"], "no temporary directories left behind"
    monkeypatch.undo()
    _policy(seed=1).save_pretrained(target)
    assert (target / "model.safetensors").read_bytes() != first
    assert json.loads((target / "config.json").read_text())["policy"]["vla"]["name"] == "tiny"


def test_default_stats_are_robot_limits_and_stats_files_load(tmp_path):
    policy = AdvantageConditionedPolicy(get_policy_config("tiny", use_ema=False))
    assert policy.norm_stats.source == "robot limits" and policy.ema is None
    q = {"min": [0.0] * 14, "max": [1.0] * 14}
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "stats.json").write_text(json.dumps({"observation.state": q, "action": q}))
    stats = NormStats.from_file(tmp_path)
    assert "min/max" in stats.source and np.allclose(stats.state.q99, 1.0)


def test_policy_from_openpi_style_checkpoint_directory(tmp_path):
    from safetensors.torch import save_file

    from rise_env.models.vla import Pi05VLA, export_state_dict, get_vla_config

    cfg = get_vla_config("tiny")
    torch.manual_seed(3)
    source = Pi05VLA(cfg)
    save_file(export_state_dict(source), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"action_dim": 16, "action_horizon": 8, "precision": "float32"}))
    (tmp_path / "assets" / "agilex").mkdir(parents=True)
    q = {"q01": [-1.0] * 32, "q99": [1.0] * 32}  # padded to 32 dims, as stats of padded data may be
    (tmp_path / "assets" / "agilex" / "norm_stats.json").write_text(
        json.dumps({"norm_stats": {"state": q, "actions": q}})
    )
    policy = AdvantageConditionedPolicy.from_pi05_checkpoint(tmp_path, tokenizer="byte", task="sort", base="tiny")
    assert policy.norm_stats.state.dim == 14
    for a, b in zip(source.state_dict().values(), policy.vla.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert policy.predict_chunk(_obs()).shape == (8, 14)


def test_noise_temperature_scales_the_initial_noise():
    policy = _policy()
    obs, g = _obs(), lambda s: torch.Generator().manual_seed(s)
    default = policy.predict_chunk(obs, generator=g(0))
    np.testing.assert_array_equal(policy.predict_chunk(obs, generator=g(0), noise_temperature=1.0), default)
    cold = [policy.predict_chunk(obs, generator=g(s), noise_temperature=0.0) for s in (0, 1)]
    np.testing.assert_array_equal(cold[0], cold[1])  # no noise: the seed no longer matters
    cfg = policy.config.vla
    zero = policy.sample_actions(ap.B.add_batch_dim(obs), noise=torch.zeros(1, cfg.action_horizon, cfg.action_dim),
                                 use_ema=True).actions[0].numpy()
    np.testing.assert_array_equal(cold[0], zero)
    half = policy.sample_actions(ap.B.add_batch_dim(obs), noise=0.5 * torch.randn(1, cfg.action_horizon, cfg.action_dim,
                                 generator=g(3)), use_ema=True).actions[0].numpy()
    np.testing.assert_array_equal(policy.predict_chunk(obs, generator=g(3), noise_temperature=0.5), half)
    with pytest.raises(ValueError, match="noise_temperature must be >= 0"):
        policy.predict_chunk(obs, noise_temperature=-0.1)

"""Flow sampler: Euler ODE, flow-SDE log-probs against a direct Gaussian computation, CFG, time sampling."""

from __future__ import annotations

import math

import pytest
import torch

from rise_env.models.vla import AdvantageVLA, FlowSampler, cfg_combine, get_vla_config, sample_time
from rise_env.models.vla.flow import interpolate


def _velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A smooth nonlinear stand-in for the network."""
    return torch.tanh(x) * (1.0 + t[:, None, None]) + 0.3 * torch.sin(3 * x)


def test_ode_is_plain_euler():
    noise = torch.randn(3, 5, 4)
    out = FlowSampler(num_steps=4).sample(_velocity, noise, return_chain=True)
    x = noise
    for k in range(4):
        t = 1.0 - k / 4
        x = x - 0.25 * _velocity(x, torch.full((3,), t))
        assert torch.allclose(out.chain[:, k + 1], x, atol=1e-6)
    assert torch.equal(out.chain[:, 0], noise)
    assert (out.log_probs == 0).all() and not out.stochastic.any()


def test_sde_log_probs_match_direct_gaussian():
    k_steps, noise_level, dims = 5, 0.5, 3
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(2, 6, 4)
    sampler = FlowSampler(num_steps=k_steps, mode="sde", noise_level=noise_level)
    out = sampler.sample(_velocity, noise, generator=g, return_chain=True, log_prob_dims=dims)
    assert out.chain.shape == (2, k_steps + 1, 6, 4) and out.log_probs.shape == (2, k_steps)
    ts = [1 - i / k_steps for i in range(k_steps + 1)]
    for k in range(k_steps):
        t, dt = ts[k], 1 / k_steps
        t_for_sigma = ts[1] if t == 1.0 else t
        sigma = noise_level * math.sqrt(t / (1 - t_for_sigma))
        x = out.chain[:, k]
        v = _velocity(x, torch.full((2,), t))
        x0, x1 = x - v * t, x + v * (1 - t)
        mean = x0 * (1 - (t - dt)) + x1 * (t - dt - sigma**2 * dt / (2 * t))
        std = math.sqrt(dt) * sigma
        ref = torch.distributions.Normal(mean[..., :dims], std).log_prob(out.chain[:, k + 1, :, :dims]).sum((1, 2))
        assert torch.allclose(out.log_probs[:, k], ref, rtol=1e-5, atol=1e-4)
    rescored = sampler.chain_log_probs(_velocity, out.chain, out.stochastic, log_prob_dims=dims)
    assert torch.allclose(rescored, out.log_probs, rtol=1e-5, atol=1e-4)


def test_sde_one_stochastic_step_per_sample():
    sampler = FlowSampler(num_steps=6, mode="sde", sde_steps="one")
    out = sampler.sample(_velocity, torch.randn(8, 3, 2), torch.Generator().manual_seed(1), return_chain=True)
    assert (out.stochastic.sum(1) == 1).all()
    assert ((out.log_probs != 0) == out.stochastic).all()


def test_sde_needs_positive_noise_level():
    with pytest.raises(ValueError, match="noise_level"):
        FlowSampler(mode="sde", noise_level=0.0)


def test_cfg_combination_formula():
    vc, vu = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    assert torch.allclose(cfg_combine(vc, vu, 1.0), vc)
    assert torch.allclose(cfg_combine(vc, vu, 0.0), vu)
    assert torch.allclose(cfg_combine(vc, vu, 2.5), vu + 2.5 * (vc - vu))


def test_guided_velocity_uses_null_prompt_branch():
    torch.manual_seed(0)
    cfg = get_vla_config("tiny")
    vla = AdvantageVLA(cfg).eval()
    with torch.no_grad():
        for name, p in vla.model.named_parameters():
            if name.endswith("dense.weight"):
                p.normal_(0, 0.05)
        obs = {"images": torch.rand(2, 3, 3, 32, 32) * 2 - 1, "state": torch.rand(2, 14) * 2 - 1, "task": "pick"}
        x, t = torch.randn(2, cfg.action_horizon, cfg.action_dim), torch.tensor([0.7, 0.2])
        v_c = vla.velocity_fn(obs, 7)(x, t)
        v_u = vla.velocity_fn(obs, 0)(x, t)
        v_g = vla.velocity_fn(obs, 7, guidance_weight=3.0)(x, t)
    assert not torch.allclose(v_c, v_u)
    assert torch.allclose(v_g, v_u + 3.0 * (v_c - v_u), atol=1e-5)


def test_time_sampling_and_interpolation():
    t = sample_time(20000, generator=torch.Generator().manual_seed(0))
    assert t.min() >= 0.001 and t.max() <= 1.0
    assert abs(t.mean().item() - (0.6 * 0.999 + 0.001)) < 0.01  # Beta(1.5, 1) mean 0.6
    a, e = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    x_t, u = interpolate(a, e, torch.tensor([1.0, 0.0]))
    assert torch.allclose(x_t[0], e[0]) and torch.allclose(x_t[1], a[1]) and torch.allclose(u, e - a)

"""Flow-matching training targets and samplers (Euler ODE and flow-SDE), separate from the network.

Conventions (openpi): ``t = 1`` is pure noise and ``t = 0`` the data; ``x_t = t·ε + (1 − t)·a``;
the network regresses ``u = ε − a``; training times are ``Beta(1.5, 1)·0.999 + 0.001``.
Sampling integrates from t = 1 to 0 on the grid ``linspace(1, 0, K + 1)`` (step δ = 1/K).

Per step at time t with velocity v (RLinf ``flow_sde``)::

    x0̂ = x_t − v·t        x1̂ = x_t + v·(1 − t)        mean = x0̂·w0 + x1̂·w1
    ODE:  w0 = 1 − (t − δ),  w1 = t − δ,                   std = 0        (plain Euler)
    SDE:  σ = noise_level·sqrt(t / (1 − t')),  t' = t except t' = t_1 at t = 1
          w0 = 1 − (t − δ),  w1 = t − δ − σ²δ / (2t),      std = sqrt(δ)·σ

so a stochastic step draws ``x_{t−δ} ~ N(mean, std²)`` and its log-density is a diagonal Gaussian.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

VelocityFn = Callable[[Tensor, Tensor], Tensor]
"""``v = f(x_t (B, H, D), t (B,))``."""


def sample_time(
    batch: int,
    alpha: float = 1.5,
    beta: float = 1.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Training times (B,) = Beta(alpha, beta)·0.999 + 0.001 (exact inverse-CDF when a or b is 1)."""
    if beta == 1.0 or alpha == 1.0:
        u = torch.rand(batch, generator=generator, device=device)
        s = u.pow(1.0 / alpha) if beta == 1.0 else 1.0 - u.pow(1.0 / beta)
    else:
        s = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(beta)).sample((batch,)).to(device)
    return s * 0.999 + 0.001


def interpolate(actions: Tensor, noise: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """actions, noise: (B, H, D); t: (B,) → (x_t, target u = ε − a)."""
    tt = t[:, None, None].to(actions.dtype)
    return tt * noise + (1.0 - tt) * actions, noise - actions


def time_grid(num_steps: int, device: torch.device | str = "cpu") -> Tensor:
    """(K + 1,) = linspace(1, 0, K + 1)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    return torch.linspace(1.0, 0.0, num_steps + 1, device=device)


def sde_sigmas(grid: Tensor, noise_level: float) -> Tensor:
    """(K,) σ per step: noise_level·sqrt(t / (1 − t')), t' = grid[1] where t = 1 (RLinf)."""
    if grid.numel() < 2:
        raise ValueError("the time grid needs at least two points")
    denom = 1.0 - torch.where(grid == 1.0, grid[1], grid)
    return (noise_level * torch.sqrt(grid / denom))[:-1]


def step_mean_std(x_t: Tensor, v: Tensor, t: float, delta: float, sigma: float) -> tuple[Tensor, float]:
    """Mean (B, H, D) and std (scalar) of ``x_{t−δ}``; sigma = 0 gives the Euler step."""
    x0_hat = x_t - v * t
    x1_hat = x_t + v * (1.0 - t)
    w0 = 1.0 - (t - delta)
    w1 = t - delta - (sigma**2) * delta / (2.0 * t)
    return x0_hat * w0 + x1_hat * w1, math.sqrt(delta) * sigma


def gaussian_log_prob(x: Tensor, mean: Tensor, std: float | Tensor, dims: int | None = None) -> Tensor:
    """Diagonal Gaussian log-density summed over (H, D[:dims]) → (B,)."""
    if dims is not None:
        x, mean = x[..., :dims], mean[..., :dims]
        if isinstance(std, Tensor) and std.ndim == x.ndim:
            std = std[..., :dims]
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    z = (x - mean) / std_t
    logp = -0.5 * z.pow(2) - torch.log(std_t) - 0.5 * math.log(2 * math.pi)
    return logp.flatten(1).sum(-1)


def cfg_combine(v_cond: Tensor, v_uncond: Tensor, weight: float) -> Tensor:
    """Classifier-free guidance: ``v_uncond + w·(v_cond − v_uncond)`` (w = 1 → conditional)."""
    return v_uncond + weight * (v_cond - v_uncond)


@dataclass
class FlowSample:
    """Result of a sampling run (all in the model's normalised action space).

    actions: (B, H, D). chain: (B, K + 1, H, D), every x_t from the initial noise to the
    actions. log_probs: (B, K) Gaussian log-density of each transition (0 where the step was
    deterministic). stochastic: (B, K) bool, which transitions were drawn from the SDE.
    stds: (K,) the transition std of each step when stochastic.
    """

    actions: Tensor
    chain: Tensor | None = None
    log_probs: Tensor | None = None
    stochastic: Tensor | None = None
    stds: Tensor | None = None


class FlowSampler:
    """Euler ODE / flow-SDE integrator over a velocity function.

    mode "ode": deterministic Euler. mode "sde": stochastic transitions; ``sde_steps="all"``
    makes every step stochastic, ``"one"`` picks one random step per sample (RLinf default),
    the others being ODE steps.
    """

    def __init__(
        self,
        num_steps: int = 10,
        mode: Literal["ode", "sde"] = "ode",
        noise_level: float = 0.5,
        sde_steps: Literal["all", "one"] = "all",
    ) -> None:
        if mode not in ("ode", "sde"):
            raise ValueError(f"mode must be 'ode' or 'sde', got {mode!r}")
        if sde_steps not in ("all", "one"):
            raise ValueError(f"sde_steps must be 'all' or 'one', got {sde_steps!r}")
        if noise_level < 0 or (mode == "sde" and noise_level == 0):
            raise ValueError(f"noise_level must be > 0 for the SDE (>= 0 otherwise), got {noise_level}")
        self.num_steps, self.mode, self.noise_level, self.sde_steps = num_steps, mode, noise_level, sde_steps

    def stochastic_mask(self, batch: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
        """(B, K) bool: which transitions are stochastic under this sampler's settings."""
        k = self.num_steps
        if self.mode == "ode":
            return torch.zeros(batch, k, dtype=torch.bool, device=device)
        if self.sde_steps == "all":
            return torch.ones(batch, k, dtype=torch.bool, device=device)
        idx = torch.randint(0, k, (batch,), generator=generator, device="cpu").to(device)
        return torch.nn.functional.one_hot(idx, k).bool()

    def sample(
        self,
        velocity_fn: VelocityFn,
        noise: Tensor,
        generator: torch.Generator | None = None,
        return_chain: bool = False,
        stochastic: Tensor | None = None,
        log_prob_dims: int | None = None,
    ) -> FlowSample:
        """Integrate from ``noise`` (B, H, D) at t = 1 to actions at t = 0.

        ``stochastic`` (B, K) bool overrides which steps are stochastic; ``log_prob_dims`` limits
        log-probs to the first (real) action dimensions.
        """
        b = noise.shape[0]
        grid = time_grid(self.num_steps).tolist()
        sigmas = sde_sigmas(torch.tensor(grid, dtype=torch.float64), self.noise_level).tolist()
        if stochastic is None:
            stochastic = self.stochastic_mask(b, noise.device, generator)
        if stochastic.shape != (b, self.num_steps):
            raise ValueError(f"stochastic must be (B={b}, K={self.num_steps}); got {tuple(stochastic.shape)}")
        x = noise
        chain, log_probs, stds = [x], [], []
        for k in range(self.num_steps):
            t, delta = grid[k], grid[k] - grid[k + 1]
            v = velocity_fn(x, torch.full((b,), t, dtype=noise.dtype, device=noise.device))
            ode_mean, _ = step_mean_std(x, v, t, delta, 0.0)
            sde_mean, std = step_mean_std(x, v, t, delta, sigmas[k])
            stds.append(std)
            mask = stochastic[:, k]
            if mask.any():
                eps = torch.randn(x.shape, generator=generator, device="cpu", dtype=x.dtype).to(x.device)
                drawn = sde_mean + std * eps
                x_next = torch.where(mask[:, None, None], drawn, ode_mean)
                lp = gaussian_log_prob(x_next, sde_mean, std, log_prob_dims)
                log_probs.append(torch.where(mask, lp, torch.zeros_like(lp)))
            else:
                x_next = ode_mean
                log_probs.append(torch.zeros(b, dtype=x.dtype, device=x.device))
            x = x_next
            chain.append(x)
        if not return_chain:
            return FlowSample(actions=x)
        return FlowSample(
            actions=x,
            chain=torch.stack(chain, dim=1),
            log_probs=torch.stack(log_probs, dim=1),
            stochastic=stochastic,
            stds=torch.tensor(stds, dtype=x.dtype),
        )

    def chain_log_probs(
        self, velocity_fn: VelocityFn, chain: Tensor, stochastic: Tensor, log_prob_dims: int | None = None
    ) -> Tensor:
        """Re-score a stored chain (B, K + 1, H, D) under the current velocity (differentiable).

        Returns (B, K): ``log N(chain[k+1] | mean_k, std_k²)`` on stochastic steps, 0 elsewhere.
        """
        b, k1 = chain.shape[:2]
        if k1 != self.num_steps + 1:
            raise ValueError(f"chain has {k1 - 1} steps, sampler has num_steps={self.num_steps}")
        grid = time_grid(self.num_steps).tolist()
        sigmas = sde_sigmas(torch.tensor(grid, dtype=torch.float64), self.noise_level).tolist()
        out = []
        for k in range(self.num_steps):
            if not stochastic[:, k].any():
                out.append(torch.zeros(b, dtype=chain.dtype, device=chain.device))
                continue
            t, delta = grid[k], grid[k] - grid[k + 1]
            v = velocity_fn(chain[:, k], torch.full((b,), t, dtype=chain.dtype, device=chain.device))
            mean, std = step_mean_std(chain[:, k], v, t, delta, sigmas[k])
            lp = gaussian_log_prob(chain[:, k + 1], mean, std, log_prob_dims)
            out.append(torch.where(stochastic[:, k], lp, torch.zeros_like(lp)))
        return torch.stack(out, dim=1)

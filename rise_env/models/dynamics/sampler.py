"""Flow-matching time sampling and the Euler integrator (kept outside the network).

Convention (diffusers' FlowMatchEuler): ``x_t = (1 - t) x_0 + t eps``, ``t = 1`` is pure noise,
the network predicts ``v = eps - x_0`` and sampling integrates ``dx/dt = v`` from 1 to 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def logit_normal_t(
    n: int, mean: float = 0.2, std: float = 1.0, generator: torch.Generator | None = None, device: str = "cpu"
) -> torch.Tensor:
    """``(n,)`` training times ``sigmoid(N(mean, std))`` in (0, 1), drawn on the generator's device."""
    z = torch.randn(n, generator=generator, device=device if generator is None else generator.device) * std + mean
    return torch.sigmoid(z).to(device)


def per_sample_noise(
    shape: Sequence[int],
    seeds: Sequence[int] | None = None,
    generators: Sequence[torch.Generator] | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Gaussian noise ``(B, *shape[1:])`` where sample i is drawn from its own seed/generator.

    A sample's noise depends only on its seed, never on the batch it sits in, so a rollout can be
    replayed alone or inside any batch.
    """
    b = shape[0]
    if seeds is not None and generators is not None:
        raise ValueError("pass either seeds or generators, not both")
    if seeds is not None:
        if len(seeds) != b:
            raise ValueError(f"got {len(seeds)} seeds for a batch of {b}")
        generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    if generators is None:
        return torch.randn(tuple(shape), dtype=dtype).to(device)
    if len(generators) != b:
        raise ValueError(f"got {len(generators)} generators for a batch of {b}")
    rows = [torch.randn(tuple(shape[1:]), generator=g, dtype=dtype) for g in generators]
    return torch.stack(rows).to(device)


VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_TIME_TOLERANCE = 1e-6  # step times come from a float32 linspace; interval ends on its grid count as written


def check_guidance_interval(interval: Sequence[float]) -> tuple[float, float]:
    """``interval`` as flow times ``(lo, hi)`` with ``0 <= lo < hi <= 1``; raises naming what is wrong."""
    values = tuple(interval)
    if len(values) != 2:
        raise ValueError(f"a guidance interval is two flow times (lo, hi), got {len(values)} values: {values}")
    lo, hi = float(values[0]), float(values[1])
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"a guidance interval (lo, hi] needs 0 <= lo < hi <= 1 (t = 1 noise, 0 data), got {values}")
    return lo, hi


def guidance_at(t: float, guidance: float, interval: tuple[float, float]) -> float:
    """Guidance weight at flow time ``t``: ``guidance`` when ``lo < t <= hi``, else 1 (plain, one network call).

    Guiding only part of the trajectory (Kynkaanniemi et al., 2024, "Applying guidance in a limited interval")
    saves the second call on the other steps. ``(0, 1]`` guides every step of any sampler.
    """
    lo, hi = interval
    return guidance if lo + _TIME_TOLERANCE < t <= hi + _TIME_TOLERANCE else 1.0


class EulerFlowSampler:
    """Euler integration of a flow velocity field over ``steps`` uniform steps from t=1 to t=0.

    Example:
        >>> sampler = EulerFlowSampler(steps=4)
        >>> x0 = torch.ones(2, 3)
        >>> out = sampler.sample(lambda x, t: (x - x0) / t.view(-1, 1), torch.full((2, 3), 5.0))
        >>> torch.allclose(out, x0)
        True
    """

    def __init__(self, steps: int = 10, shift: float = 1.0) -> None:
        if steps <= 0:
            raise ValueError(f"steps must be positive, got {steps}")
        if shift <= 0:
            raise ValueError(f"shift must be positive, got {shift}")
        self.steps = steps
        self.shift = shift

    def times(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """``(steps + 1,)`` decreasing times from 1 to 0 (optionally shifted toward noise, as SD3)."""
        t = torch.linspace(1.0, 0.0, self.steps + 1, device=device)
        return self.shift * t / (1 + (self.shift - 1) * t)

    @torch.no_grad()
    def sample(self, velocity: VelocityFn, noise: torch.Tensor) -> torch.Tensor:
        """Integrate from ``noise`` (t=1) to t=0. ``velocity(x, t)`` gets ``t`` of shape ``(B,)``."""
        x = noise
        ts = self.times(noise.device)
        for i in range(self.steps):
            t = ts[i].expand(x.shape[0])
            v = velocity(x, t)
            x = x + (ts[i + 1] - ts[i]) * v.to(x.dtype)
        return x

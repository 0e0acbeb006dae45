"""Controllability: does the imagined future follow the actions it was given?

``ratio = error(imagined | true actions, real future) / error(imagined | other actions, real future)``,
where the other actions come from another episode at the same start state. A world model that
ignores actions scores ~1; a controllable one scores well below 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return (a - b).pow(2).reshape(a.shape[0], -1).mean(1)


def controllability_ratio(
    err_true: float | np.ndarray | torch.Tensor, err_swapped: float | np.ndarray | torch.Tensor
) -> float:
    """``mean(err_true) / mean(err_swapped)``; raises if the swapped error is zero."""
    num = float(torch.as_tensor(err_true, dtype=torch.float64).mean())
    den = float(torch.as_tensor(err_swapped, dtype=torch.float64).mean())
    if den <= 0:
        raise ValueError(f"error under swapped actions must be positive, got {den}")
    return num / den


def controllability_score(
    imagined_true: torch.Tensor,
    imagined_swapped: torch.Tensor,
    real_future: torch.Tensor,
    error: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = _mse,
) -> dict[str, float]:
    """Controllability of a batch of ``(B, ...)`` futures (frames or latents).

    Returns ``err_true``, ``err_swapped`` (means over the batch) and their ``ratio``.
    ``error(a, b)`` must return one value per sample (default: per-sample MSE).
    """
    if not (imagined_true.shape == imagined_swapped.shape == real_future.shape):
        raise ValueError(
            f"shapes differ: {tuple(imagined_true.shape)}, {tuple(imagined_swapped.shape)}, {tuple(real_future.shape)}"
        )
    e_true = error(imagined_true, real_future)
    e_swap = error(imagined_swapped, real_future)
    return {
        "err_true": float(torch.as_tensor(e_true).double().mean()),
        "err_swapped": float(torch.as_tensor(e_swap).double().mean()),
        "ratio": controllability_ratio(e_true, e_swap),
    }

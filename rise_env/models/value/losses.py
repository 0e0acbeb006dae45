"""Value losses (paper Eqs. 5–6) and the progress-only → joint schedule.

- Progress: ``(V(o_t) − t/T)²`` on frames of successful expert episodes only (Eq. 5 samples
  D_exp). Failed episodes get no progress target — t/T would tell V that a failing run progresses
  as well as a success; they shape V through TD alone.
- TD: ``(V(o_t) − y_t)²`` on every frame, ``y_t = r_t + γ^k · V̄(o_{t+k})`` with V̄ the target
  (stop-gradient) and ``y_t = r_t`` at the last frame (terminal). ``r_t`` is +1 / −1 at the last
  frame of a successful / failed episode and 0 elsewhere; ``k`` is the frame gap to the next kept
  frame (1 in the paper; with a frame stride k > 1 this is the exact k-step target, the rewards
  in between being zero).
"""

from __future__ import annotations

import torch
from torch import Tensor


def progress_only_steps(total_steps: int, fraction: float) -> int:
    """Number of initial steps trained with the progress loss alone."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"progress_only_fraction must be in [0, 1]; got {fraction}")
    return int(round(total_steps * fraction))


def use_td(step: int, total_steps: int, fraction: float) -> bool:
    """True once ``step`` (0-based) is past the progress-only part of training."""
    return step >= progress_only_steps(total_steps, fraction)


def td_targets(reward: Tensor, done: Tensor, next_value: Tensor, gamma: float, gap: Tensor | None = None) -> Tensor:
    """``y = r + γ^gap · V̄(o')`` for non-terminal frames, ``y = r`` for terminal ones. All (B,) → (B,).

    ``next_value`` is detached here, whatever the caller passes (the target never gets gradients).
    """
    if not reward.shape == done.shape == next_value.shape:
        raise ValueError(
            f"reward, done and next_value must share shape (B,); got {tuple(reward.shape)}, "
            f"{tuple(done.shape)}, {tuple(next_value.shape)}"
        )
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1]; got {gamma}")
    gap = torch.ones_like(reward) if gap is None else gap.to(reward.dtype)
    discount = torch.pow(torch.as_tensor(gamma, dtype=reward.dtype, device=reward.device), gap)
    boot = discount * next_value.detach().to(reward.dtype)
    return reward + torch.where(done.bool(), torch.zeros_like(boot), boot)


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean of ``(pred − target)²`` over ``mask`` (all if None); 0 (with a graph) when the mask is empty."""
    err = (pred.float() - target.float()).pow(2)
    if mask is None:
        return err.mean()
    m = mask.to(err.dtype)
    return (err * m).sum() / m.sum().clamp(min=1.0)


def value_losses(
    value: Tensor,
    progress: Tensor,
    progress_mask: Tensor,
    td_target: Tensor | None,
    progress_weight: float = 1.0,
    td_weight: float = 1.0,
) -> dict[str, Tensor]:
    """Combine the terms. value, progress, td_target: (B,) float; progress_mask: (B,) bool.

    Returns ``loss`` (to minimise), ``progress`` and, in the joint phase, ``td``.
    """
    out = {"progress": masked_mse(value, progress, progress_mask)}
    loss = progress_weight * out["progress"]
    if td_target is not None:
        out["td"] = masked_mse(value, td_target)
        loss = loss + td_weight * out["td"]
    out["loss"] = loss
    return out

"""Attention masks and positions (big_vision / openpi conventions).

A token ``i`` may attend to token ``j`` iff ``cumsum(ar)[j] <= cumsum(ar)[i]`` and both are real
(non-padding). The prefix (images + prompt) has ``ar = 0`` everywhere (bidirectional); the suffix
(action tokens) has ``ar = [1, 0, ..., 0]``, so action tokens see the whole prefix and each other
while the prefix never sees the actions. Positions are ``cumsum(pad) - 1``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def make_att_2d_masks(pad_mask: Tensor, ar_mask: Tensor) -> Tensor:
    """pad_mask: (B, L) bool (True = real), ar_mask: (B, L) int/bool → (B, L, L) bool allowed[i, j]."""
    if pad_mask.ndim != 2 or ar_mask.ndim != 2:
        raise ValueError(f"pad_mask and ar_mask must be (B, L); got {tuple(pad_mask.shape)}, {tuple(ar_mask.shape)}")
    if pad_mask.shape != ar_mask.shape:
        raise ValueError(f"pad_mask {tuple(pad_mask.shape)} and ar_mask {tuple(ar_mask.shape)} differ")
    cumsum = torch.cumsum(ar_mask.long(), dim=1)
    causal = cumsum[:, None, :] <= cumsum[:, :, None]
    pad = pad_mask[:, None, :] & pad_mask[:, :, None]
    return causal & pad


def positions_from_pad(pad_mask: Tensor, offset: Tensor | None = None) -> Tensor:
    """pad_mask: (B, L) bool → positions (B, L) = offset + cumsum(pad) - 1."""
    pos = torch.cumsum(pad_mask.long(), dim=1) - 1
    return pos if offset is None else pos + offset[:, None]


def suffix_ar_mask(batch: int, horizon: int, device: torch.device | None = None) -> Tensor:
    """Suffix ar mask ``[1, 0, ..., 0]`` of shape (B, H): one causal block of action tokens."""
    ar = torch.zeros(batch, horizon, dtype=torch.long, device=device)
    ar[:, 0] = 1
    return ar


def cached_suffix_mask(prefix_pad: Tensor, suffix_pad: Tensor, suffix_ar: Tensor) -> Tensor:
    """Mask of suffix queries over [prefix keys ‖ suffix keys] when the prefix is cached.

    prefix_pad: (B, Lp), suffix_pad / suffix_ar: (B, Ls) → (B, Ls, Lp + Ls) bool. Equals the
    suffix rows of ``make_att_2d_masks`` on the concatenated sequence.
    """
    ls = suffix_pad.shape[1]
    to_prefix = prefix_pad[:, None, :].expand(-1, ls, -1) & suffix_pad[:, :, None]
    return torch.cat([to_prefix, make_att_2d_masks(suffix_pad, suffix_ar)], dim=2)

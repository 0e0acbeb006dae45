"""Chunk advantage (paper Eq. 2) and its discretisation into the bins that policies are prompted with.

A(o_t, a_t:t+H) = mean_k V(ô_{t+k}) − V(o_t), scaled, clamped to [−1, 1], then cut into
uniform bins 1..n_bins (bin n_bins = best). Works on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def chunk_advantage(
    future_values: ArrayLike, current_value: ArrayLike, scale: float = 5.0, clip: float = 1.0
) -> ArrayLike:
    """Scaled, clamped advantage of a chunk.

    Args:
        future_values: (B, K) values of the K imagined (or recorded) frames after the chunk starts.
        current_value: (B,) value of the frame the chunk starts from.
        scale: multiplier applied before clamping (5 in the paper's release).
        clip: the advantage is clamped to [-clip, clip].

    Returns:
        (B,) advantages in [-clip, clip], same array type as the inputs.
    """
    if future_values.ndim != 2 or current_value.ndim != 1 or future_values.shape[0] != current_value.shape[0]:
        raise ValueError(
            "expected future_values (B, K) and current_value (B,), got "
            f"{tuple(future_values.shape)} and {tuple(current_value.shape)}"
        )
    if future_values.shape[1] == 0:
        raise ValueError("future_values must hold at least one frame per chunk (K >= 1)")
    raw = future_values.mean(1) - current_value
    if isinstance(raw, torch.Tensor):
        return (raw * scale).clamp(-clip, clip)
    return np.clip(raw * scale, -clip, clip)


def advantage_to_bin(advantage: ArrayLike, n_bins: int = 10, clip: float = 1.0) -> ArrayLike:
    """Uniform bins over [-clip, clip]: -clip → 1, +clip → n_bins. Returns int64 of the input's shape."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    if isinstance(advantage, torch.Tensor):
        edges = torch.linspace(-clip, clip, n_bins + 1, device=advantage.device, dtype=advantage.dtype)[1:-1]
        return torch.bucketize(advantage.clamp(-clip, clip), edges, right=True).long() + 1
    edges = np.linspace(-clip, clip, n_bins + 1)[1:-1]
    return np.digitize(np.clip(advantage, -clip, clip), edges).astype(np.int64) + 1


def bin_center(bin_index: ArrayLike, n_bins: int = 10, clip: float = 1.0) -> ArrayLike:
    """Centre of advantage bin(s) 1..n_bins, as float."""
    width = 2 * clip / n_bins
    return -clip + (bin_index - 0.5) * width

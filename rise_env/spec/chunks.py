"""Validation of action chunks, shared by every environment before anything is executed."""

from __future__ import annotations

import numpy as np


class ActionChunkError(ValueError):
    """An action chunk was refused: wrong shape or dtype, NaN/inf, or out of the limits."""


def validate_action_chunk(
    chunk: object,
    low: np.ndarray,
    high: np.ndarray,
    horizon: int,
    clip: bool = False,
    atol: float = 1e-6,
) -> tuple[np.ndarray, int]:
    """Check an action chunk and return it as a fresh float64 array.

    Args:
        chunk: array-like of shape ``(horizon, D)`` with a real floating (or integer) dtype.
        low, high: per-dimension limits, shape ``(D,)``.
        horizon: expected number of control steps.
        clip: if True, out-of-limit values are clipped (and counted) instead of refused.
        atol: tolerance on the limits before a value counts as out of range.

    Returns:
        ``(chunk, n_clipped)``: the validated ``(horizon, D)`` float64 copy and the number of
        values that were clipped (always 0 when ``clip`` is False).

    Raises:
        ActionChunkError: naming what was wrong and what was expected.
    """
    dim = low.shape[0]
    arr = np.asarray(chunk)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ActionChunkError(f"action chunk must have a real numeric dtype, got {arr.dtype}")
    if arr.shape != (horizon, dim):
        raise ActionChunkError(f"action chunk must have shape ({horizon}, {dim}), got {arr.shape}")
    arr = arr.astype(np.float64, copy=True)
    bad = ~np.isfinite(arr)
    if bad.any():
        step, joint = np.argwhere(bad)[0]
        raise ActionChunkError(
            f"action chunk contains {int(bad.sum())} NaN/inf value(s), first at step {step}, dimension {joint}"
        )
    below = arr < low - atol
    above = arr > high + atol
    out = below | above
    if not out.any():
        return np.clip(arr, low, high), 0
    if clip:
        return np.clip(arr, low, high), int(out.sum())
    step, joint = np.argwhere(out)[0]
    raise ActionChunkError(
        f"action chunk value {arr[step, joint]:.4f} at step {step}, dimension {joint} is outside "
        f"its limits [{low[joint]:.4f}, {high[joint]:.4f}] ({int(out.sum())} value(s) out of range); "
        "pass clip_actions=True to clip instead"
    )

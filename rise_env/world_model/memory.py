"""Which imagined frames the dynamics model remembers when chunks are chained (GE-style sparse memory)."""

from __future__ import annotations

import numpy as np


def sparse_memory_indices(history_length: int, num_memory: int) -> np.ndarray:
    """Indices of ``num_memory`` frames spread evenly over a history of ``history_length`` frames.

    The newest frame is always included; with a short history, the oldest frame repeats.

    Example:
        >>> sparse_memory_indices(29, 4).tolist()
        [0, 9, 19, 28]
        >>> sparse_memory_indices(2, 4).tolist()
        [0, 0, 1, 1]
    """
    if history_length < 1 or num_memory < 1:
        raise ValueError(f"need history_length >= 1 and num_memory >= 1, got {history_length}, {num_memory}")
    return np.round(np.linspace(0, history_length - 1, num_memory)).astype(np.int64)

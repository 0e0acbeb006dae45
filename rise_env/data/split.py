"""The seeded train / held-out episode split shared by every trainer (dynamics, value) and the asset build."""

from __future__ import annotations

import numpy as np


def split_episodes(num_episodes: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded episode split → sorted (train, val) lists; at least one of each when both are asked for,
    val empty when ``val_fraction`` is 0."""
    if num_episodes < 1:
        raise ValueError("the dataset holds no episode")
    n_val = int(round(num_episodes * val_fraction))
    if val_fraction > 0 and num_episodes >= 2:
        n_val = min(max(n_val, 1), num_episodes - 1)
    perm = np.random.default_rng(seed).permutation(num_episodes)
    return sorted(perm[n_val:].tolist()), sorted(perm[:n_val].tolist())

"""Feature normalisation from dataset stats, for numpy arrays and torch tensors alike.

Modes (per feature):
- ``"mean_std"``: ``(x - mean) / std``.
- ``"min_max"``: ``[min, max] -> [-1, 1]`` (the dynamics model's per-dimension action scaling).
- ``"quantile"``: ``[q01, q99] -> [-1, 1]`` (pi0.5 style); ``"quantile10"``: ``[q10, q90] -> [-1, 1]``.

Dimensions with a (near) zero spread are only centred, never divided by ~0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rise_env.data.stats import Stats

MODES: dict[str, tuple[str, str]] = {
    "mean_std": ("mean", "std"),
    "min_max": ("min", "max"),
    "quantile": ("q01", "q99"),
    "quantile10": ("q10", "q90"),
}


class Normalizer:
    """Maps features to a normalised range and back.

    Args:
        stats: feature -> stat name -> array (e.g. ``LeRobotDatasetReader.stats``).
        modes: feature -> one of ``MODES``.
        eps: spreads below this are treated as zero.
    """

    def __init__(self, stats: dict[str, Stats], modes: dict[str, str], eps: float = 1e-6):
        self.modes = dict(modes)
        self._params: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key, mode in self.modes.items():
            if mode not in MODES:
                raise ValueError(f"normalisation mode for {key!r} must be one of {list(MODES)}, got {mode!r}")
            if key not in stats:
                raise KeyError(f"no statistics for feature {key!r}; available: {sorted(stats)}")
            a_name, b_name = MODES[mode]
            a = np.asarray(stats[key][a_name], np.float64)
            b = np.asarray(stats[key][b_name], np.float64)
            if mode == "mean_std":
                center, scale = a, b
            else:
                center, scale = (a + b) / 2, (b - a) / 2
            scale = np.where(scale < eps, 1.0, scale)
            self._params[key] = (center.astype(np.float32), scale.astype(np.float32))

    def params(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """``(center, scale)`` with ``normalised = (x - center) / scale``."""
        return self._params[key]

    def _cast(self, key: str, x: Any) -> tuple[Any, Any]:
        if key not in self._params:
            raise KeyError(f"feature {key!r} has no normalisation; configured: {sorted(self._params)}")
        c, s = self._params[key]
        if hasattr(x, "detach"):  # torch tensor
            import torch

            return torch.as_tensor(c, dtype=x.dtype, device=x.device), torch.as_tensor(
                s, dtype=x.dtype, device=x.device
            )
        return c, s

    def normalize(self, key: str, x: Any) -> Any:
        """Normalise ``x`` (..., D) of feature ``key``; numpy in, numpy out; torch in, torch out."""
        c, s = self._cast(key, x)
        return (x - c) / s

    def unnormalize(self, key: str, x: Any) -> Any:
        """Inverse of :meth:`normalize`."""
        c, s = self._cast(key, x)
        return x * s + c

"""Quantile normalisation of state and actions to [-1, 1] (π0.5 / openpi convention).

``normalize(x) = (x − q01) / (q99 − q01 + 1e-6) · 2 − 1`` and its exact inverse. Statistics come
as arrays, as a dict (``{"state": {"q01", "q99"}, "actions": {...}}``, LeRobot feature names
``observation.state`` / ``action`` also accepted), or from a file read by
``rise_env.models.vla.load_norm_stats`` (openpi ``norm_stats.json``, LeRobot ``meta/stats.json``,
LeRobot normaliser safetensors). Without q01/q99, min/max are used (stated in ``source``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rise_env.models.vla.convert import load_norm_stats
from rise_env.spec.robot import RobotSpec, agilex_cobot_magic

EPS = 1e-6


class QuantileNormalizer:
    """Per-dimension affine map of [q01, q99] onto [-1, 1]."""

    def __init__(self, q01: np.ndarray | list[float], q99: np.ndarray | list[float], name: str = "x") -> None:
        self.q01 = np.asarray(q01, dtype=np.float64).reshape(-1)
        self.q99 = np.asarray(q99, dtype=np.float64).reshape(-1)
        self.name = name
        if self.q01.shape != self.q99.shape:
            raise ValueError(f"{name}: q01 {self.q01.shape} and q99 {self.q99.shape} differ in shape")
        if not (np.isfinite(self.q01).all() and np.isfinite(self.q99).all()):
            raise ValueError(f"{name}: normalisation statistics contain NaN or inf")
        if (self.q99 < self.q01).any():
            raise ValueError(f"{name}: q99 < q01 in dims {np.nonzero(self.q99 < self.q01)[0].tolist()}")

    @property
    def dim(self) -> int:
        return self.q01.shape[0]

    def _stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[-1] != self.dim:
            raise ValueError(f"{self.name} has {x.shape[-1]} dims; the statistics have {self.dim}")
        lo = torch.as_tensor(self.q01, dtype=x.dtype, device=x.device)
        span = torch.as_tensor(self.q99 - self.q01 + EPS, dtype=x.dtype, device=x.device)
        return lo, span

    def widened(self, min_span: np.ndarray | float) -> QuantileNormalizer:
        """A copy whose ranges are at least ``min_span`` wide (narrower ones grow around their middle).

        A joint that never moves in the demonstrations has q99 − q01 ≈ 0; any other data (rollouts,
        corrections) would then normalise to hundreds and swamp the loss.
        """
        min_span = np.broadcast_to(np.asarray(min_span, dtype=np.float64), self.q01.shape)
        mid, half = (self.q01 + self.q99) / 2, np.maximum(self.q99 - self.q01, min_span) / 2
        narrow = self.q99 - self.q01 < min_span
        return QuantileNormalizer(np.where(narrow, mid - half, self.q01), np.where(narrow, mid + half, self.q99),
                                  self.name)

    def normalize(self, x: Tensor) -> Tensor:
        """(..., D) absolute → (..., D) in [-1, 1] for values inside [q01, q99]."""
        lo, span = self._stats(x)
        return (x - lo) / span * 2.0 - 1.0

    def unnormalize(self, y: Tensor) -> Tensor:
        """(..., D) normalised → absolute units."""
        lo, span = self._stats(y)
        return (y + 1.0) / 2.0 * span + lo


class NormStats:
    """Normalisers of the state and of the actions."""

    def __init__(self, state: QuantileNormalizer, actions: QuantileNormalizer, source: str = "arrays") -> None:
        self.state, self.actions, self.source = state, actions, source

    @classmethod
    def from_robot(cls, robot: RobotSpec | None = None) -> NormStats:
        """Robot joint limits as [q01, q99] for both state and actions (a fresh policy's default)."""
        low, high = (robot or agilex_cobot_magic()).action_limits()
        return cls(QuantileNormalizer(low, high, "state"), QuantileNormalizer(low, high, "actions"), "robot limits")

    @classmethod
    def from_dict(cls, stats: Mapping[str, Any], dim: int | None = None) -> NormStats:
        """From ``{"state"|"observation.state": {...}, "actions"|"action": {...}}`` (or openpi's
        ``{"norm_stats": ...}``); ``dim`` keeps the first dims (openpi stats may be padded)."""
        stats = stats.get("norm_stats", stats)
        parts, source = {}, "q01/q99"
        for ours, names in (("state", ("state", "observation.state")), ("actions", ("actions", "action"))):
            entry = next((stats[n] for n in names if n in stats), None)
            if entry is None:
                raise KeyError(f"normalisation stats need {names[0]!r} (or {names[1]!r}); got keys {sorted(stats)}")
            if "q01" in entry and "q99" in entry:
                lo, hi = entry["q01"], entry["q99"]
            elif "min" in entry and "max" in entry:
                lo, hi, source = entry["min"], entry["max"], "min/max (no q01/q99 in the stats)"
            else:
                raise KeyError(f"{ours} statistics need q01/q99 (or min/max); got {sorted(entry)}")
            lo, hi = np.asarray(lo, dtype=np.float64).reshape(-1), np.asarray(hi, dtype=np.float64).reshape(-1)
            if dim is not None:
                lo, hi = lo[:dim], hi[:dim]
            parts[ours] = QuantileNormalizer(lo, hi, ours)
        return cls(parts["state"], parts["actions"], source)

    @classmethod
    def from_file(cls, path: str | Path, dim: int | None = None, asset_id: str | None = None) -> NormStats:
        """openpi ``norm_stats.json`` / LeRobot ``meta/stats.json`` / normaliser safetensors, or a folder."""
        stats = cls.from_dict(load_norm_stats(path, asset_id), dim)
        stats.source = f"{path} ({stats.source})"
        return stats

    def widened(self, fraction: float, robot: RobotSpec | None = None) -> NormStats:
        """State and action ranges at least ``fraction`` of the robot's joint-limit ranges wide."""
        low, high = (robot or agilex_cobot_magic()).action_limits()
        span = fraction * (np.asarray(high, np.float64) - np.asarray(low, np.float64))
        return NormStats(self.state.widened(span), self.actions.widened(span), self.source)

    def to_dict(self) -> dict[str, Any]:
        """openpi-style ``{"norm_stats": {...}}`` (JSON-serialisable)."""
        return {
            "norm_stats": {
                "state": {"q01": self.state.q01.tolist(), "q99": self.state.q99.tolist()},
                "actions": {"q01": self.actions.q01.tolist(), "q99": self.actions.q99.tolist()},
            }
        }

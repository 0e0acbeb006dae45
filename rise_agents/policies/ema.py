"""Exponential moving average of a module's weights (the rollout policy of the RISE loop)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Shadow copy updated as ``shadow ← decay·shadow + (1 − decay)·param`` after each optimiser step.

    The shadow is a frozen deep copy in eval mode. With ``warmup`` the effective decay is
    ``min(decay, (1 + n) / (10 + n))`` so early updates follow the model closely.
    """

    def __init__(self, model: nn.Module, decay: float = 0.995, warmup: bool = False) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay, self.warmup, self.num_updates = decay, warmup, 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the shadow towards ``model`` (same architecture); buffers are copied."""
        decay = self.current_decay()
        for s, p in zip(self.module.parameters(), model.parameters(), strict=True):
            s.lerp_(p.detach().to(s.dtype), 1.0 - decay)
        for s, b in zip(self.module.buffers(), model.buffers(), strict=True):
            s.copy_(b)
        self.num_updates += 1

    @torch.no_grad()
    def copy_from(self, model: nn.Module) -> None:
        """Reset the shadow to ``model``'s current weights."""
        self.module.load_state_dict(model.state_dict())

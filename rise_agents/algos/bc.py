"""Behaviour cloning: the paper's π0.5 baseline, imitation of the demonstrations.

The advantage-conditioned flow-matching loss with every demo frame prompted with the top bin
(``advantage_bin``, 10 by default; 0 trains unconditioned). The bin comes per sample from the
batch, so RECAP reuses the same loss with value-model bins.
"""

from __future__ import annotations

import torch

from rise_agents.algos.base import Algorithm


class BC(Algorithm):
    """Imitation on ``demo`` episodes (plus ``correction`` ones with ``include_corrections``)."""

    name = "bc"

    def sources(self) -> tuple[str, ...]:
        return ("demo", "correction") if self.cfg.include_corrections else ("demo",)

    def compute_loss(self, batch: dict, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        per_sample = self.policy.loss(batch, generator=generator)
        return per_sample.mean(), {}

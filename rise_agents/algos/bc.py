"""Behaviour cloning: the paper's π0.5 baseline, imitation of the demonstrations.

The advantage-conditioned flow-matching loss with every demo frame prompted with the top bin
(``advantage_bin``, 10 by default; 0 trains unconditioned). The bin comes per sample from the
batch, so RECAP reuses the same loss with value-model bins.
"""

from __future__ import annotations

from rise_agents.algos.base import Algorithm


class BC(Algorithm):
    """Imitation on ``demo`` episodes (plus ``correction`` ones with ``include_corrections``)."""

    name = "bc"

    def sources(self) -> tuple[str, ...]:
        return ("demo", "correction") if self.cfg.include_corrections else ("demo",)

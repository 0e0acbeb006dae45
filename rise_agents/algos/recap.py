"""RECAP warm-up (paper Sec. III-B): offline advantage conditioning on demos, corrections and rollouts.

Rollout frames are labelled by the value model (Eq. 2 on the recorded later frames, 10 uniform
bins, see ``labels.py``); demonstrations and corrections get the top bin. The policy is trained
with the flow-matching loss conditioned on each sample's bin, so that prompting the top bin at
test time asks for better-than-average behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path

from rise_agents.algos.base import Algorithm
from rise_agents.algos.data import ChunkDataset
from rise_agents.algos.labels import label_summary, load_or_label
from rise_env.utils import atomic_write_text


def bundled_value_model(task: str) -> Path:
    """The value model inside the bundled world model of ``task``."""
    from rise_env.assets import WORLD_MODEL_DIR
    from rise_env.envs.factory import bundled_asset_dir

    return bundled_asset_dir(task) / WORLD_MODEL_DIR / "value"


class RECAP(Algorithm):
    """Advantage-conditioned imitation on ``demo``, ``correction`` and value-labelled ``rollout`` episodes."""

    name = "recap"

    def sources(self) -> tuple[str, ...]:
        return ("demo", "correction", "rollout")

    def value_dir(self) -> Path:
        return Path(self.cfg.value_model) if self.cfg.value_model else bundled_value_model(self.cfg.task)

    def label(self, dataset: ChunkDataset) -> None:
        horizon = self.policy.config.vla.action_horizon
        labels = load_or_label(self.run, self.reader, self.value_dir(), progress=self.progress,
                               stride=self.cfg.label_stride, chunk=horizon, scale=self.cfg.advantage_scale,
                               n_bins=self.policy.config.vla.prompt.num_bins)
        dataset.set_bins(labels["bin"])
        summary = label_summary(labels, self.reader)
        atomic_write_text(self.run / "labels.json", json.dumps(summary, indent=2) + "\n")
        print("advantage labels: " + "; ".join(
            f"{s} {v['frames']} frames, mean bin {v['mean_bin']:.2f}" for s, v in summary.items()), flush=True)

"""What the evaluator asks for chunks: a trained policy (``RUN`` folder) or the scripted expert.

``predictor.reset(env, seed)`` starts a trial; ``predictor.chunk(obs)`` returns ``(H, 14)``.
The policy's flow noise comes from a generator seeded with the trial seed, so identical seeds
give identical trials.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from rise_agents.policies import AdvantageConditionedPolicy

EXPERT = "expert"


def resolve_policy_dir(path: str | Path) -> Path:
    """A run folder (``RUN/policy``, else its latest checkpoint) or a ``save_pretrained`` folder."""
    from rise_agents.algos.checkpoint import POLICY_DIR, latest_checkpoint

    path = Path(path)
    if (path / "config.json").is_file():
        return path
    if (path / POLICY_DIR / "config.json").is_file():
        return path / POLICY_DIR
    latest = latest_checkpoint(path / "checkpoints")
    if latest is not None:
        return latest / POLICY_DIR
    raise FileNotFoundError(
        f"{path} holds no policy: expected a training run (RUN/policy or RUN/checkpoints) or a save_pretrained folder"
    )


def dataset_resolution(policy_dir: Path) -> tuple[int, int] | None:
    """Camera (h, w) of the dataset the policy was trained on (from the run's dataset.json), if known."""
    for parent in [policy_dir, *list(policy_dir.parents)[:3]]:
        info = parent / "dataset.json"
        if info.is_file():
            cams = json.loads(info.read_text()).get("cameras", {})
            if cams:
                h, w = next(iter(cams.values()))
                return int(h), int(w)
    return None


class PolicyPredictor:
    """Chunks from an ``AdvantageConditionedPolicy`` prompted with ``advantage_bin``."""

    def __init__(self, policy_dir: str | Path, advantage_bin: int = 10, num_steps: int | None = None,
                 use_ema: bool | None = None, noise_temperature: float = 1.0) -> None:
        self.dir = resolve_policy_dir(policy_dir)
        self.policy = AdvantageConditionedPolicy.from_pretrained(self.dir).eval()
        self.advantage_bin, self.num_steps, self.use_ema = advantage_bin, num_steps, use_ema
        self.noise_temperature = noise_temperature
        self.horizon = self.policy.config.vla.action_horizon
        self.generator = torch.Generator()

    def reset(self, env, seed: int) -> None:
        self.generator.manual_seed(int(seed))

    def chunk(self, obs: dict) -> np.ndarray:
        return self.policy.predict_chunk(
            obs, self.advantage_bin, use_ema=self.use_ema, num_steps=self.num_steps, generator=self.generator,
            noise_temperature=self.noise_temperature,
        )


class ExpertPredictor:
    """The scripted expert (privileged state). Its chunks have ``env.chunk_size`` steps, so they do not overlap."""

    horizon = None

    def __init__(self, mode: str = "demo") -> None:
        self.mode, self.expert = mode, None

    def reset(self, env, seed: int) -> None:
        from rise_agents.envs.sim import make_expert

        self.expert = make_expert(env, mode=self.mode, seed=int(seed))

    def chunk(self, obs: dict) -> np.ndarray:
        return self.expert.act(obs).actions

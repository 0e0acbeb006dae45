"""`CompositionalWorldModel`: the dynamics model imagines, the value model scores, Eq. 2 rewards.

    frames  = dynamics.imagine(memory, state, actions)           (B, K, V, H, W, 3)
    values  = value.values([o_t, ô_t+1 .. ô_t+K])                (B, K + 1)
    A       = clamp(scale · (mean_k V(ô_t+k) − V(o_t)), −1, 1)   (B,)
    bin     = uniform bin of A in 1..n_bins

Everything is batched end to end: one dynamics call and one value call per chunk batch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rise_env.spec import agilex_cobot_magic
from rise_env.spec.advantage import advantage_to_bin, chunk_advantage
from rise_env.utils import atomic_write_text
from rise_env.world_model.protocol import ImaginedChunk

CONFIG_FILE = "world_model.json"


class FrameValueModel(Protocol):
    """What the world model needs from a value model."""

    def values(self, frames: torch.Tensor, instructions: list[str]):
        """frames (B, V, H, W, 3) uint8 and one instruction per frame → values (B,) (tensor or array)."""
        ...


class WorldModelConfig(BaseModel):
    """How imagined chunks are sampled and scored (saved as ``world_model.json``)."""

    model_config = ConfigDict(extra="forbid")

    task_names: list[str] = Field(description="Instruction of each task index.")
    sample_steps: int = Field(10, gt=0, description="Euler steps per imagined chunk (10 online, 50 for evaluation).")
    action_guidance: float | None = Field(
        None, gt=0, description="Action guidance weight w per imagined chunk (None: the dynamics model's default)."
    )
    action_guidance_interval: tuple[float, float] | None = Field(
        None,
        description="Flow times (lo, hi] whose Euler steps are guided, t = 1 noise; the others make one network "
        "call instead of two (None: the dynamics model's default, every step).",
    )
    advantage_scale: float = Field(5.0, gt=0, description="Advantage multiplier before clamping (paper release: 5).")
    n_bins: int = Field(10, ge=2, description="Uniform advantage bins over [-1, 1].")
    value_batch_size: int = Field(64, gt=0, description="Frames per value-model forward pass.")

    @field_validator("action_guidance_interval")
    @classmethod
    def _check_interval(cls, interval: tuple[float, float] | None) -> tuple[float, float] | None:
        if interval is None:
            return None
        from rise_env.models.dynamics.sampler import check_guidance_interval  # the dynamics package loads lazily

        return check_guidance_interval(interval)


class CompositionalWorldModel:
    """Implements `ChunkWorldModel` for `ImaginationVectorEnv` on top of a dynamics and a value model.

    Args:
        dynamics: a `rise_env.models.dynamics.DynamicsModel` (or any module with ``imagine`` and ``config``).
        value: any model with ``values(frames, task_index) -> (B,)``.
        config: task names, sampling steps and advantage settings.
        device: where both models run.
    """

    def __init__(self, dynamics, value: FrameValueModel, config: WorldModelConfig, device: str = "cpu") -> None:
        self.dynamics = dynamics.to(device).eval()
        self.value = value.to(device).eval() if hasattr(value, "to") else value
        self.config = config
        self.device = torch.device(device)
        dc = dynamics.config
        if config.action_guidance is not None:
            dc.check_guidance(config.action_guidance)  # fail when the world model is built, not at the first step
        self.robot = agilex_cobot_magic(dc.height, dc.width)
        if dc.views != len(self.robot.camera_keys):
            raise ValueError(f"dynamics model imagines {dc.views} views, the robot has {len(self.robot.camera_keys)}")
        self.chunk_size = dc.action_horizon
        self.num_memory_frames = dc.memory_frames
        self.task_names = list(config.task_names)

    @torch.no_grad()
    def imagine_chunk(
        self, memory: np.ndarray, state: np.ndarray, actions: np.ndarray, task_index: np.ndarray, seeds: np.ndarray
    ) -> ImaginedChunk:
        """See `ChunkWorldModel.imagine_chunk`: memory (B, M, V, H, W, 3) uint8 → scored (B, K, ...) chunk."""
        if len(task_index) and (task_index.min() < 0 or task_index.max() >= len(self.task_names)):
            raise ValueError(f"task_index must lie in [0, {len(self.task_names)}), got {task_index.tolist()}")
        dev = self.device
        tasks = torch.as_tensor(task_index, dtype=torch.long, device=dev)
        frames = self.dynamics.imagine(
            torch.as_tensor(memory, device=dev),
            torch.as_tensor(state, dtype=torch.float32, device=dev),
            torch.as_tensor(actions, dtype=torch.float32, device=dev),
            steps=self.config.sample_steps,
            seeds=[int(s) for s in seeds],
            task_index=tasks,
            guidance=self.config.action_guidance,
            guidance_interval=self.config.action_guidance_interval,
        )  # (B, K, V, H, W, 3) uint8
        b, k = frames.shape[:2]
        scored = torch.cat([torch.as_tensor(memory[:, -1:], device=dev), frames], dim=1)  # (B, K+1, V, H, W, 3)
        values = self._values(scored.flatten(0, 1), np.repeat(np.asarray(task_index), k + 1)).reshape(b, k + 1)
        adv = chunk_advantage(values[:, 1:], values[:, 0], scale=self.config.advantage_scale)
        return ImaginedChunk(
            frames=frames.cpu().numpy(),
            values=values[:, 1:].float().cpu().numpy(),
            value_t0=values[:, 0].float().cpu().numpy(),
            advantage=adv.float().cpu().numpy(),
            advantage_bin=advantage_to_bin(adv, self.config.n_bins).cpu().numpy(),
        )

    def _values(self, frames: torch.Tensor, tasks: np.ndarray) -> torch.Tensor:
        """Values of (N, V, H, W, 3) frames, asked by instruction so the value model's task order is irrelevant."""
        step = self.config.value_batch_size
        names = [self.task_names[int(t)] for t in tasks]
        parts = [
            torch.as_tensor(np.asarray(self.value.values(frames[i : i + step], names[i : i + step]), np.float32))
            for i in range(0, len(frames), step)
        ]
        return torch.cat(parts).to(frames.device)

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """``dynamics/`` + ``value/`` (each their own save_pretrained) + ``world_model.json``."""
        directory = Path(directory)
        self.dynamics.save_pretrained(directory / "dynamics")
        self.value.save_pretrained(directory / "value")
        atomic_write_text(directory / CONFIG_FILE, json.dumps(self.config.model_dump(), indent=2))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str = "cpu", **overrides) -> CompositionalWorldModel:
        """Load a folder written by ``save_pretrained``; keyword overrides apply to `WorldModelConfig`."""
        from rise_env.models.dynamics import DynamicsModel
        from rise_env.models.value import ValueModel

        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{directory} is not a world-model folder: {CONFIG_FILE} is missing")
        config = WorldModelConfig.model_validate({**json.loads((directory / CONFIG_FILE).read_text()), **overrides})
        dynamics = DynamicsModel.from_pretrained(directory / "dynamics")
        value = ValueModel.from_pretrained(directory / "value")
        return cls(dynamics, value, config, device=device)

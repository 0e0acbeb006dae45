"""Advantage-conditioned flow-matching policy: π0.5-style VLA + normalisation + EMA + persistence.

Quick use::

    policy = AdvantageConditionedPolicy(get_policy_config("cpu"), norm_stats=NormStats.from_file(".../meta/stats.json"))
    chunk = policy.predict_chunk(obs)                 # (50, 14) float32, absolute joints, clipped to limits
    loss = policy.loss(batch).mean()                  # batch contract: rise_agents.policies.batch
    out = policy.sample_actions(obs_batch, 10, mode="sde", return_chain=True)   # PPO: chain + log-probs
    policy.update_ema()                               # after each optimiser step
    policy.save_pretrained("ckpt/")                   # config.json, model/ema.safetensors, norm_stats.json
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_file
from torch import Tensor, nn

from rise_agents.policies import batch as B
from rise_agents.policies.ema import EMA
from rise_agents.policies.normalize import NormStats
from rise_env.models.vla.config import VLA_PRESETS, VLAConfig, get_vla_config, resolve_preset
from rise_env.models.vla.convert import config_from_checkpoint, load_pi05_weights
from rise_env.models.vla.flow import FlowSample
from rise_env.models.vla.io import atomic_write_dir, copy_tokenizer, resolve_tokenizer, save_weights, write_json
from rise_env.models.vla.pipeline import AdvantageVLA
from rise_env.models.vla.tokenizer import Tokenizer
from rise_env.spec.robot import RobotSpec, agilex_cobot_magic

CONFIG_NAME, WEIGHTS_NAME, EMA_NAME, STATS_NAME = (
    "config.json",
    "model.safetensors",
    "ema.safetensors",
    "norm_stats.json",
)


class PolicyConfig(BaseModel):
    """Everything needed to rebuild the policy (the VLA config is nested)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vla: VLAConfig = Field(default_factory=lambda: get_vla_config("cpu"), description="Network and prompt config.")
    task: str = Field("sort the bricks into the bins", description="Default instruction when obs has no 'task'.")
    use_ema: bool = Field(True, description="Keep an EMA copy of the weights (the rollout policy).")
    ema_decay: float = Field(0.995, ge=0.0, lt=1.0, description="EMA decay per update (paper: 0.995).")
    clip_to_limits: bool = Field(True, description="Clip predicted chunks to the robot's joint limits.")
    delta_action_mask: tuple[bool, ...] | None = Field(
        None,
        description="Per action dim: True = the network predicts the action minus the current state (openpi "
        "DeltaActions; ALOHA-style: joints True, grippers False). None = absolute actions.",
    )


def joint_delta_mask(robot: RobotSpec | None = None) -> tuple[bool, ...]:
    """Delta-action mask of the robot: arm joints relative to the state, grippers absolute."""
    return tuple(not name.endswith("gripper") for name in (robot or agilex_cobot_magic()).joint_names)


def get_policy_config(name: str = "cpu", **overrides: Any) -> PolicyConfig:
    """Policy preset over a VLA preset (``tiny``, ``cpu``, ``pi05``); did-you-mean on a typo."""
    vla = get_vla_config(resolve_preset(name, tuple(VLA_PRESETS), "policy preset"))
    return PolicyConfig.model_validate({"vla": vla.model_dump(), **overrides})


@dataclass
class PolicySample:
    """actions: (B, H, 14) float32 absolute (clipped if configured); flow: normalised FlowSample
    (actions (B, H, action_dim), and with ``return_chain`` the chain, log-probs, stochastic mask)."""

    actions: Tensor
    flow: FlowSample


class AdvantageConditionedPolicy(nn.Module):
    """π0.5-style policy conditioned on an advantage bin in its prompt."""

    def __init__(
        self,
        config: PolicyConfig | None = None,
        norm_stats: NormStats | Mapping[str, Any] | None = None,
        robot: RobotSpec | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        super().__init__()
        self.config = config or PolicyConfig()
        self.robot = robot or agilex_cobot_magic()
        self.vla = AdvantageVLA(self.config.vla, tokenizer)
        if norm_stats is None:
            norm_stats = NormStats.from_robot(self.robot)
        elif not isinstance(norm_stats, NormStats):
            norm_stats = NormStats.from_dict(norm_stats)
        dims = (self.config.vla.state_dim, self.config.vla.env_action_dim)
        if (norm_stats.state.dim, norm_stats.actions.dim) != dims:
            raise ValueError(
                f"norm stats have state/action dims {(norm_stats.state.dim, norm_stats.actions.dim)}; expected {dims}"
            )
        self.norm_stats = norm_stats
        mask = self.config.delta_action_mask
        if mask is not None and len(mask) != self.config.vla.env_action_dim:
            raise ValueError(f"delta_action_mask has {len(mask)} entries; expected env_action_dim = {dims[1]}")
        self.register_buffer(
            "delta_mask", torch.tensor(mask or [False] * dims[1], dtype=torch.float32), persistent=False
        )
        self.ema = EMA(self.vla.model, self.config.ema_decay) if self.config.use_ema else None
        low, high = self.robot.action_limits()
        self.register_buffer("action_low", torch.as_tensor(low), persistent=False)
        self.register_buffer("action_high", torch.as_tensor(high), persistent=False)

    def _apply(self, fn, recurse: bool = True):  # noqa: ANN001 - keep the EMA copy on the same device/dtype
        super()._apply(fn, recurse)
        if self.ema is not None:
            self.ema.module._apply(fn, recurse)
        return self

    @property
    def device(self) -> torch.device:
        return self.vla.device

    def update_ema(self) -> None:
        """Call after each optimiser step."""
        if self.ema is None:
            raise RuntimeError("this policy was built with use_ema=False")
        self.ema.update(self.vla.model)

    def _runner(self, use_ema: bool) -> AdvantageVLA:
        if not use_ema:
            return self.vla
        if self.ema is None:
            raise RuntimeError("use_ema=True but the policy has no EMA copy (use_ema=False in its config)")
        return AdvantageVLA(self.config.vla, self.vla.tokenizer, model=self.ema.module)

    # ------------------------------------------------------------------ preprocessing
    def to_model_inputs(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        """Batched env observation → the VLA's normalised inputs (see ``rise_env.models.vla.pipeline``)."""
        cams = self.config.vla.camera_names
        B.is_batched(obs, cams)
        images = B.images_to_model(obs, cams, self.config.vla.vision.image_size, self.device)
        state = B.as_tensor(obs[B.STATE_KEY], torch.float32).to(self.device)
        if state.ndim != 2 or state.shape[1] != self.config.vla.state_dim:
            raise ValueError(f"state must be (B, {self.config.vla.state_dim}); got {tuple(state.shape)}")
        out = {
            "images": images,
            "state": self.norm_stats.state.normalize(state),
            "task": B.tasks_of(obs, images.shape[0], self.config.task),
        }
        if obs.get(B.IMAGE_MASKS) is not None:
            out["image_masks"] = B.as_tensor(obs[B.IMAGE_MASKS], torch.bool).to(self.device)
        return out

    def to_model_actions(self, actions: Tensor, state: Tensor) -> Tensor:
        """Absolute (B, H, 14) actions → normalised network targets (delta dims minus the state (B, 14))."""
        return self.norm_stats.actions.normalize(actions - (state * self.delta_mask)[:, None])

    def from_model_actions(self, actions: Tensor, state: Tensor) -> Tensor:
        """Inverse of ``to_model_actions``: normalised (B, H, 14) → absolute joint units."""
        return self.norm_stats.actions.unnormalize(actions) + (state * self.delta_mask)[:, None]

    # ------------------------------------------------------------------ acting
    def sample_actions(
        self,
        obs: Mapping[str, Any],
        advantage_bin: int | Tensor = 10,
        noise: Tensor | None = None,
        num_steps: int | None = None,
        mode: Literal["ode", "sde"] = "ode",
        noise_level: float = 0.5,
        return_chain: bool = False,
        sde_steps: Literal["all", "one"] = "all",
        guidance_weight: float = 1.0,
        use_ema: bool = False,
        generator: torch.Generator | None = None,
        noise_temperature: float = 1.0,
    ) -> PolicySample:
        """Batched observation → ``PolicySample`` (absolute (B, H, 14) actions + normalised flow output).

        ``noise`` (B, H, action_dim) is in the normalised action space (DSRL / PPO hook).
        """
        runner = self._runner(use_ema)
        state = B.as_tensor(obs[B.STATE_KEY], torch.float32).to(self.device)
        flow = runner.sample_actions(
            self.to_model_inputs(obs),
            advantage_bin,
            noise=noise,
            num_steps=num_steps,
            mode=mode,
            noise_level=noise_level,
            return_chain=return_chain,
            sde_steps=sde_steps,
            guidance_weight=guidance_weight,
            generator=generator,
            noise_temperature=noise_temperature,
        )
        actions = self.from_model_actions(flow.actions[..., : self.config.vla.env_action_dim].float(), state)
        if self.config.clip_to_limits:
            actions = torch.maximum(torch.minimum(actions, self.action_high), self.action_low)
        return PolicySample(actions=actions, flow=flow)

    @torch.no_grad()
    def predict_chunk(
        self,
        obs: Mapping[str, Any],
        advantage_bin: int = 10,
        task: str | None = None,
        use_ema: bool | None = None,
        num_steps: int | None = None,
        guidance_weight: float = 1.0,
        generator: torch.Generator | None = None,
        noise_temperature: float = 1.0,
    ) -> np.ndarray:
        """Env observation (single or batched) → (H, 14) or (B, H, 14) float32 absolute joint chunk.

        ``use_ema`` None uses the EMA copy when the policy has one.
        """
        batched = B.is_batched(obs, self.config.vla.camera_names)
        obs = dict(obs) if batched else B.add_batch_dim(obs)
        if task is not None:
            obs[B.TASK] = task
        use_ema = self.ema is not None if use_ema is None else use_ema
        out = self.sample_actions(
            obs,
            advantage_bin,
            num_steps=num_steps,
            guidance_weight=guidance_weight,
            use_ema=use_ema,
            generator=generator,
            noise_temperature=noise_temperature,
        )
        chunk = out.actions.cpu().numpy().astype(np.float32)
        return chunk if batched else chunk[0]

    # ------------------------------------------------------------------ training
    def loss(self, batch: Mapping[str, Any], generator: torch.Generator | None = None) -> Tensor:
        """Per-sample flow-matching loss (B,) on a policy batch (see ``rise_agents.policies.batch``)."""
        for key in (B.ACTIONS, B.ADVANTAGE_BIN):
            if key not in batch:
                raise KeyError(f"batch is missing {key!r}; expected keys {B.BATCH_KEYS}")
        inputs = self.to_model_inputs(batch)
        actions = B.as_tensor(batch[B.ACTIONS], torch.float32).to(self.device)
        state = B.as_tensor(batch[B.STATE_KEY], torch.float32).to(self.device)
        inputs["actions"] = self.to_model_actions(actions, state)
        inputs["advantage_bin"] = B.as_tensor(batch[B.ADVANTAGE_BIN], torch.long)
        if batch.get(B.ACTION_IS_PAD) is not None:
            inputs["action_is_pad"] = B.as_tensor(batch[B.ACTION_IS_PAD], torch.bool)
        return self.vla.loss(inputs, generator=generator)

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, directory: str | Path) -> Path:
        """Atomically write config.json, model.safetensors, [ema.safetensors], norm_stats.json."""

        def write(tmp: Path) -> None:
            vla_cfg = self.config.vla.model_copy(update={"tokenizer": copy_tokenizer(self.config.vla.tokenizer, tmp)})
            cfg = self.config.model_copy(update={"vla": vla_cfg})
            write_json(tmp / CONFIG_NAME, {"policy": cfg.model_dump(mode="json"), "robot": self.robot.model_dump()})
            save_weights(self.vla.model, tmp / WEIGHTS_NAME)
            if self.ema is not None:
                save_weights(self.ema.module, tmp / EMA_NAME)
            write_json(tmp / STATS_NAME, self.norm_stats.to_dict())

        return atomic_write_dir(directory, write)

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, map_location: str | torch.device = "cpu"
    ) -> AdvantageConditionedPolicy:
        """Inverse of ``save_pretrained``; weights load strictly (keys and shapes checked)."""
        directory = Path(directory)
        if not (directory / CONFIG_NAME).is_file():
            raise FileNotFoundError(f"{directory / CONFIG_NAME} not found (expected a save_pretrained directory)")
        raw = json.loads((directory / CONFIG_NAME).read_text())
        if "policy" not in raw:
            raise ValueError(f"{directory / CONFIG_NAME} has no 'policy' entry; is this a policy checkpoint?")
        cfg = PolicyConfig.model_validate(raw["policy"])
        vla_cfg = cfg.vla.model_copy(update={"tokenizer": resolve_tokenizer(cfg.vla.tokenizer, directory)})
        cfg = cfg.model_copy(update={"vla": vla_cfg})
        stats = NormStats.from_dict(json.loads((directory / STATS_NAME).read_text()))
        policy = cls(cfg, stats, RobotSpec.model_validate(raw["robot"]) if "robot" in raw else None)
        load_pi05_weights(policy.vla.model, load_file(str(directory / WEIGHTS_NAME)), strict=True)
        if policy.ema is not None:
            ema_file = directory / EMA_NAME
            source = load_file(str(ema_file)) if ema_file.is_file() else policy.vla.model.state_dict()
            load_pi05_weights(policy.ema.module, source, strict=True)
        return policy.to(map_location)

    @classmethod
    def from_pi05_checkpoint(
        cls,
        directory: str | Path,
        tokenizer: str,
        task: str,
        strict: bool = True,
        base: str = "pi05",
        **overrides: Any,
    ) -> AdvantageConditionedPolicy:
        """An openpi-PyTorch or LeRobot π0.5 checkpoint directory (config.json, model.safetensors,
        norm stats) → policy. ``tokenizer`` is a local SentencePiece ``.model`` path (PaliGemma's
        for real checkpoints); ``base`` is the preset the checkpoint's config.json overrides."""
        vla_cfg = config_from_checkpoint(directory, base=base)
        vla_cfg = VLAConfig.model_validate({**vla_cfg.model_dump(), "tokenizer": tokenizer, **overrides})
        cfg = PolicyConfig(vla=vla_cfg, task=task)
        policy = cls(cfg, NormStats.from_file(directory, dim=vla_cfg.state_dim))
        load_pi05_weights(policy.vla.model, directory, strict=strict)
        if policy.ema is not None:
            policy.ema.copy_from(policy.vla.model)
        return policy

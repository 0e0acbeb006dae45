"""One value-training step and resumable trainer state (safetensors + JSON, never pickle).

A resumable checkpoint directory holds ``model/`` (a loadable value model: ``config.json`` +
``model.safetensors``), ``optimizer.safetensors`` (AdamW moment tensors, keyed ``state.<param>.<name>``),
``target.safetensors`` (the Polyak target network, when used) and ``trainer_state.json`` (step,
optimizer param groups and scalar state, the numpy sampler state and the torch CPU RNG state as a
list of bytes). Loading it reproduces the following steps bit-exactly on CPU.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from rise_env.models.value.config import ValueTrainConfig
from rise_env.models.value.io import load_state_strict, save_value_model
from rise_env.models.value.losses import td_targets, use_td, value_losses
from rise_env.models.value.model import ValueModel
from rise_env.utils.atomic import atomic_directory
from rise_env.utils.checkpointing import OPTIM_NAME, STATE_NAME, optimizer_from_safe, optimizer_to_safe

TARGET_NAME = "target.safetensors"
__all__ = [
    "OPTIM_NAME",
    "STATE_NAME",
    "TARGET_NAME",
    "ValueTrainer",
    "checkpoint_dirs",
    "optimizer_from_safe",
    "optimizer_to_safe",
]


class ValueTrainer:
    """Holds the model, AdamW, the optional target network, the step and the sampling RNG."""

    def __init__(self, model: ValueModel, cfg: ValueTrainConfig) -> None:
        self.model, self.cfg = model, cfg
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
        )
        self.target: ValueModel | None = None
        if cfg.target_ema > 0:
            self.target = copy.deepcopy(model).requires_grad_(False)
        self.step = 0
        self.rng = np.random.default_rng(cfg.seed)

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then constant (paper: constant AdamW 2.5e-5)."""
        if self.cfg.warmup_steps and step < self.cfg.warmup_steps:
            return self.cfg.lr * (step + 1) / self.cfg.warmup_steps
        return self.cfg.lr

    def td_active(self, step: int | None = None) -> bool:
        """Whether ``step`` (default: the next one) uses the TD loss."""
        return use_td(self.step if step is None else step, self.cfg.steps, self.cfg.progress_only_fraction)

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Loss terms of a batch from ``FrameBank.batch`` at the current step (with graph)."""
        value = self.model.value(batch["obs"], batch["task_index"])
        dev = value.device
        target = None
        if self.td_active():
            net = self.target if self.target is not None else self.model
            with torch.no_grad():
                next_value = net.value(batch["next_obs"], batch["task_index"])
            target = td_targets(
                batch["reward"].to(dev), batch["done"].to(dev), next_value, self.cfg.gamma, batch["gap"].to(dev)
            )
        out = value_losses(
            value,
            batch["progress"].to(dev),
            batch["progress_mask"].to(dev),
            target,
            self.cfg.progress_weight,
            self.cfg.td_weight,
        )
        out["value_mean"] = value.detach().mean()
        return out

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step; returns the scalars to log."""
        self.model.train()
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        out = self.losses(batch)
        self.optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        if self.target is not None:
            with torch.no_grad():
                for t, s in zip(self.target.parameters(), self.model.parameters()):
                    t.lerp_(s, 1.0 - self.cfg.target_ema)
        logs = {k: float(v.detach()) for k, v in out.items()}
        logs.update(lr=lr, grad_norm=float(grad_norm), td_phase=float(self.td_active()))
        self.step += 1
        return logs

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, directory: str | Path) -> Path:
        """Write a resumable checkpoint directory atomically (replacing an existing one)."""
        tensors, meta = optimizer_to_safe(self.optimizer)
        state = {
            "step": self.step,
            "optimizer": meta,
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state().tolist(),
            "train_config": self.cfg.model_dump(mode="json"),
        }
        with atomic_directory(directory, overwrite=True) as tmp:
            save_value_model(self.model, tmp / "model")
            save_file(tensors, str(tmp / OPTIM_NAME), metadata={"format": "pt"})
            if self.target is not None:
                target = {k: v.detach().cpu().contiguous() for k, v in self.target.state_dict().items()}
                save_file(target, str(tmp / TARGET_NAME), metadata={"format": "pt"})
            (tmp / STATE_NAME).write_text(json.dumps(state) + "\n")
        return Path(directory)

    def load_checkpoint(self, directory: str | Path) -> None:
        """Restore model, optimizer, target, step and RNG states from ``save_checkpoint``'s directory."""
        directory = Path(directory)
        if not (directory / STATE_NAME).is_file():
            raise FileNotFoundError(f"{directory / STATE_NAME} not found (expected a resumable value checkpoint)")
        state = json.loads((directory / STATE_NAME).read_text())
        load_state_strict(self.model, load_file(str(directory / "model" / "model.safetensors")))
        optimizer_from_safe(self.optimizer, load_file(str(directory / OPTIM_NAME)), state["optimizer"])
        if self.target is not None:
            src = directory / TARGET_NAME
            load_state_strict(self.target, load_file(str(src)) if src.is_file() else self.model.state_dict())
        self.step = int(state["step"])
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))


def checkpoint_dirs(run: str | Path) -> list[Path]:
    """Resumable checkpoints of a run (``RUN/checkpoints/step_XXXXXXXX``), oldest first."""
    root = Path(run) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step_*") if p.is_dir() and (p / STATE_NAME).is_file())

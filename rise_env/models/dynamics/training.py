"""Training loops: flow matching for the transformer (VAE frozen) and reconstruction for the VAE.

Batches are dicts with the keys documented in :data:`BATCH_KEYS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from rise_env.models.dynamics.checkpoint import WEIGHTS_NAME, load_checked, read_state_dict
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.models.dynamics.vae import AutoencoderTrainer
from rise_env.utils.checkpointing import (
    generator_state,
    load_training_checkpoint,
    save_training_checkpoint,
    set_generator_state,
)

BATCH_KEYS: dict[str, str] = {
    "memory_frames": "(B, 4, V, H, W, 3) uint8 memory frames, oldest first",
    "future_frames": "(B, 25, V, H, W, 3) uint8 frames at 15 Hz after the memory",
    "actions": "(B, 50, 14) float absolute joint targets at 30 Hz",
    "state": "(B, 14) float joint state at the last memory frame",
    "task_index": "(B,) long task ids (optional; or 'text_embeds' (B, L, caption_channels))",
}


def linear_cooldown(step: int, total_steps: int, cooldown_steps: int) -> float:
    """LR factor of 0-based ``step``: 1, then a linear decay to 0 over the last ``cooldown_steps`` of
    ``total_steps`` (1 throughout when ``cooldown_steps`` is 0)."""
    if cooldown_steps <= 0:
        return 1.0
    return min(1.0, max(0, total_steps - step) / cooldown_steps)


class DynamicsTrainer:
    """AdamW on the transformer only (the VAE stays frozen): linear warm-up, constant LR, and with
    ``cooldown_steps`` a linear decay to 0 over the last of ``total_steps`` (a warm-up/stable/decay
    schedule, so a cool-down can branch off any checkpoint of a constant-LR run).

    ``bf16`` runs the forward pass under bfloat16 autocast when the model is on CUDA (ignored on CPU,
    where training stays float32 and bit-exactly reproducible).

    Example:
        >>> model = DynamicsModel.from_preset("tiny")
        >>> from rise_env.models.dynamics.synthetic import moving_squares
        >>> trainer = DynamicsTrainer(model, lr=1e-3)
        >>> stats = trainer.step(moving_squares(model.config, batch=2, seed=0))
        >>> sorted(stats)
        ['grad_norm', 'loss', 'lr']
    """

    def __init__(
        self,
        model: DynamicsModel,
        lr: float = 1e-4,
        warmup_steps: int = 0,
        total_steps: int | None = None,
        cooldown_steps: int = 0,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.95),
        max_grad_norm: float = 1.0,
        seed: int = 0,
        bf16: bool = False,
        action_dropout: float = 0.0,
        latent_motion_weight: float = 0.0,
    ) -> None:
        if latent_motion_weight < 0:
            raise ValueError(f"latent_motion_weight must be >= 0, got {latent_motion_weight}")
        if action_dropout > 0 and not model.config.null_action:
            raise ValueError(f"action_dropout={action_dropout} needs a model with a null action (config.null_action)")
        if cooldown_steps and (total_steps is None or cooldown_steps > total_steps):
            raise ValueError(f"cooldown_steps={cooldown_steps} needs total_steps >= it, got {total_steps}")
        self.model = model
        self.action_dropout = action_dropout
        self.latent_motion_weight = latent_motion_weight
        self.bf16 = bf16
        self.lr = lr
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.cooldown_steps = cooldown_steps
        self.max_grad_norm = max_grad_norm
        model.codec.requires_grad_(False)
        params = [p for p in model.transformer.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
        # on the model's device: drawing the flow noise on the host made GPU training host-bound
        self.generator = torch.Generator(device=model.device).manual_seed(seed)
        self.steps_done = 0

    def current_lr(self) -> float:
        """LR of the next step: warm-up ramp x cool-down ramp (each 1 outside its phase)."""
        step, lr = self.steps_done, self.lr
        if self.warmup_steps > 0:
            lr *= min(1.0, (step + 1) / self.warmup_steps)
        if self.cooldown_steps > 0:
            lr *= linear_cooldown(step, self.total_steps, self.cooldown_steps)
        return lr

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One update; returns ``loss``, ``grad_norm`` and ``lr``."""
        model = self.model
        model.transformer.train()
        model.codec.eval()
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        cuda = model.device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16 and cuda):
            loss = model.loss(
                batch,
                generator=self.generator,
                action_dropout=self.action_dropout,
                latent_motion_weight=self.latent_motion_weight,
            )
            loss = loss.mean().float()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite dynamics loss {float(loss)} at step {self.steps_done}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.transformer.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.steps_done += 1
        return {"loss": loss.item(), "grad_norm": float(norm), "lr": lr}

    def save_checkpoint(self, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Atomically write ``model/`` (loadable DynamicsModel), the optimizer, step and RNG states."""
        state = {"step": self.steps_done, "generator": generator_state(self.generator), **(extra or {})}
        return save_training_checkpoint(
            directory, lambda tmp: self.model.save_pretrained(tmp / "model"), self.optimizer, state
        )

    def load_checkpoint(self, directory: str | Path) -> dict[str, Any]:
        """Restore model weights, optimizer, step and RNG states written by :meth:`save_checkpoint`."""
        directory = Path(directory)
        load_checked(self.model, read_state_dict(directory / "model" / WEIGHTS_NAME), strict=True)
        state = load_training_checkpoint(directory, self.optimizer)
        set_generator_state(self.generator, state["generator"])
        self.steps_done = int(state["step"])
        return state


def _cycle(batches: Iterable[dict]) -> Iterator[dict]:
    while True:
        empty = True
        for b in batches:
            empty = False
            yield b
        if empty:
            raise ValueError("the batch iterable is empty")
        if iter(batches) is batches:  # a one-shot iterator is exhausted: stop instead of spinning
            return


def train_dynamics(
    model: DynamicsModel,
    batches: Iterable[dict[str, torch.Tensor]],
    steps: int,
    lr: float = 1e-4,
    warmup_steps: int = 0,
    seed: int = 0,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = False,
) -> list[float]:
    """Train the transformer for ``steps`` updates on ``batches`` (re-iterated if it is a list).

    Returns the per-step losses. ``callback(step, stats)`` runs after every update.
    """
    trainer = DynamicsTrainer(model, lr=lr, warmup_steps=warmup_steps, seed=seed)
    losses: list[float] = []
    it = _cycle(batches)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="dynamics")
    for i in range(steps):
        try:
            batch = next(it)
        except StopIteration:
            break
        stats = trainer.step(batch)
        losses.append(stats["loss"])
        if callback is not None:
            callback(i, stats)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{stats['loss']:.4f}")
    if bar is not None:
        bar.close()
    return losses


def train_vae(
    model: DynamicsModel,
    clips: Iterable[torch.Tensor],
    steps: int,
    lr: float = 1e-3,
    kl_weight: float = 1e-6,
    seed: int = 0,
) -> list[float]:
    """Train the model's VAE on ``(B, T, V, H, W, 3)`` uint8 clips (``T = 1 + k r``); returns losses."""
    vae = model.codec.vae
    trainer = AutoencoderTrainer(vae, lr=lr, kl_weight=kl_weight)
    gen = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    it = _cycle(clips)
    for _ in range(steps):
        try:
            clip = next(it)
        except StopIteration:
            break
        losses.append(trainer.step(clip, generator=gen)["loss"])
    vae.eval()
    return losses

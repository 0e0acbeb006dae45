"""Configuration of the progress + TD value model and of its training; named presets.

Presets (``get_value_config(name)`` / ``get_value_train_config(name)``):

- ``tiny``: the ``tiny`` VLA prefix (32×32 views), for unit tests.
- ``cpu``: the ``cpu`` VLA prefix (3 views of 96×128, SigLIP-like 4×128, Gemma-like 4×192), a
  (256, 256) head; ≈ 3.4M parameters, trains on 2 CPU cores. Its prefix has the same shapes as the
  ``cpu`` policy, so it can start from a ``cpu`` policy checkpoint.
- ``pi05``: the published π0.5 prefix (SigLIP So400m/14 at 224 px + ``gemma_2b``) and a
  (1024, 512, 256) head on the mean prefix token; ≈ 2.9B parameters, meant to start from π0.5.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rise_env.models.vla.config import VLAConfig, get_vla_config, resolve_preset


class ValueConfig(BaseModel):
    """The value network: VLA prefix (backbone) + MLP head on the mean of the valid prefix tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("custom", description="Preset name this config came from (informational).")
    backbone: VLAConfig = Field(
        default_factory=lambda: get_vla_config("cpu", max_token_len=32, discrete_state_input=False),
        description="VLA config; only its vision tower, Gemma prefix, vocabulary, views, tokenizer and "
        "prompt are used (the action expert is not built).",
    )
    head_hidden: tuple[int, ...] = Field((256, 256), description="Hidden widths of the ReLU MLP value head.")
    output: Literal["tanh", "sigmoid", "linear"] = Field(
        "tanh",
        description="Output squashing: 'tanh' bounds V to [-1, 1] (progress targets in [0, 1] and TD targets "
        "with ±1 terminal rewards both live there); 'sigmoid' to [0, 1] (progress only); 'linear' unbounded.",
    )
    resize_mode: Literal["stretch", "pad"] = Field(
        "stretch",
        description="How input frames reach the backbone's image size: 'stretch' (plain resize) or 'pad' "
        "(keep the aspect ratio and pad with black, as openpi's resize_with_pad).",
    )
    task_names: tuple[str, ...] = Field(
        (), description="Instruction of each task index of the training data (lets values() take task indices)."
    )
    gradient_checkpointing: bool = Field(False, description="Recompute Gemma layers in the backward pass.")

    @model_validator(mode="after")
    def _check(self) -> ValueConfig:
        if any(h <= 0 for h in self.head_hidden):
            raise ValueError(f"head_hidden widths must be positive; got {self.head_hidden}")
        return self

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) the backbone sees."""
        return tuple(self.backbone.vision.image_size)

    @property
    def num_views(self) -> int:
        return len(self.backbone.camera_names)


class ValueTrainConfig(BaseModel):
    """Optimisation and loss schedule of the value model (paper: AdamW 2.5e-5, batch 64, 50k steps,
    progress only for the first 10k steps, then progress + TD with γ 0.995)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(50_000, gt=0, description="Total optimisation steps.")
    batch_size: int = Field(64, gt=0, description="Frames per batch.")
    lr: float = Field(2.5e-5, gt=0, description="AdamW learning rate (after warm-up; constant).")
    warmup_steps: int = Field(500, ge=0, description="Linear learning-rate warm-up steps.")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay.")
    betas: tuple[float, float] = Field((0.9, 0.95), description="AdamW betas.")
    grad_clip: float = Field(1.0, gt=0, description="Gradient-norm clipping threshold.")
    progress_only_fraction: float = Field(
        0.2, ge=0.0, le=1.0, description="Fraction of the steps trained with the progress loss alone (paper: 10k/50k)."
    )
    gamma: float = Field(0.995, gt=0.0, le=1.0, description="TD discount per recorded frame (30 Hz).")
    progress_weight: float = Field(1.0, ge=0.0, description="Weight of the progress loss.")
    td_weight: float = Field(1.0, ge=0.0, description="Weight of the TD loss (joint phase).")
    progress_sources: tuple[str, ...] = Field(
        ("demo",),
        description="Episode sources whose *successful* episodes get the progress target t/T (paper Eq. 5: "
        "expert data D_exp). Failed episodes never get a progress target; they enter through TD only.",
    )
    target_ema: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="0: TD bootstraps from the online network under stop-gradient (semi-gradient TD(0)); "
        "> 0: from a Polyak-averaged target network with this decay per step.",
    )
    frame_stride: int | None = Field(
        None,
        ge=1,
        description="Keep every k-th recorded frame (plus the last) in memory; TD then bootstraps k frames "
        "ahead with γ^k (exact: rewards are zero in between). None: the smallest stride that fits max_bank_gb.",
    )
    max_bank_gb: float = Field(3.0, gt=0, description="Memory budget of the preloaded frames (GiB).")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Fraction of episodes held out for evaluation.")
    eval_frame_stride: int = Field(5, ge=1, description="Held-out evaluation scores every k-th frame (and the last).")
    seed: int = Field(0, description="Seed of initialisation, the episode split and batch sampling.")
    checkpoint_every: int = Field(500, gt=0, description="Steps between resumable checkpoints.")
    keep_checkpoints: int = Field(2, ge=1, description="Resumable checkpoints kept on disk (newest).")
    log_every: int = Field(10, gt=0, description="Steps between TensorBoard scalars.")


def _value(name: str, vla: str, head: tuple[int, ...], resize: str, **vla_overrides: object) -> ValueConfig:
    backbone = get_vla_config(vla, discrete_state_input=False, **vla_overrides)
    return ValueConfig(name=name, backbone=backbone, head_hidden=head, resize_mode=resize)


VALUE_PRESETS = {
    "tiny": lambda: _value("tiny", "tiny", (32,), "stretch", max_token_len=24),
    "cpu": lambda: _value("cpu", "cpu", (256, 256), "stretch", max_token_len=32),
    "pi05": lambda: _value("pi05", "pi05", (1024, 512, 256), "pad", max_token_len=48),
}

TRAIN_PRESETS = {
    "tiny": lambda: ValueTrainConfig(steps=60, batch_size=8, lr=2e-3, warmup_steps=5, checkpoint_every=20),
    "cpu": lambda: ValueTrainConfig(steps=1500, batch_size=16, lr=3e-4, warmup_steps=100, checkpoint_every=250),
    "pi05": lambda: ValueTrainConfig(),
}


def get_value_config(name: str = "cpu", **overrides: object) -> ValueConfig:
    """Named value-model preset (``tiny``, ``cpu``, ``pi05``), top-level fields overridable."""
    cfg = VALUE_PRESETS[resolve_preset(name, tuple(VALUE_PRESETS), "value preset")]()
    return ValueConfig.model_validate({**cfg.model_dump(), **overrides}) if overrides else cfg


def get_value_train_config(name: str = "cpu", **overrides: object) -> ValueTrainConfig:
    """Named training preset; ``None`` overrides are ignored (convenient for CLI flags)."""
    cfg = TRAIN_PRESETS[resolve_preset(name, tuple(TRAIN_PRESETS), "value training preset")]()
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return ValueTrainConfig.model_validate({**cfg.model_dump(), **overrides}) if overrides else cfg

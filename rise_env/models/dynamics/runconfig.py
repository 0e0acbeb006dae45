"""Settings of a dynamics training run and the resume check (the episode split: ``rise_env.data.split``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Fields that may differ when a run is resumed: they change how it runs, not what it learns.
OPERATIONAL_FIELDS: frozenset[str] = frozenset(
    {
        "steps",
        "cooldown_steps",
        "vae_steps",
        "vae_cooldown_steps",
        "checkpoint_every",
        "checkpoint_seconds",
        "keep_checkpoints",
        "device",
        "log_every",
        "workers",
        "frame_cache",
        "latent_cache",
    }
)


# The transformer's AdamW rate a new run takes when none is given, by model preset (measured for cpu:
# docs/dynamics_model.md, "The learning rate"; the cpu-fine* presets share its width-128 transformer and
# their documented runs use the same rate); presets not listed take DEFAULT_LR.
PRESET_LR: dict[str, float] = {"cpu": 3e-3, "cpu-fine": 3e-3, "cpu-fine-t2": 3e-3, "cpu-fine-t2-c8": 3e-3}
DEFAULT_LR = 1e-4


class ConfigMismatchError(ValueError):
    """A resumed run was given settings that differ from the ones it was started with."""


class DynamicsTrainConfig(BaseModel):
    """Everything that defines a dynamics training run (saved in ``RUN/run.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: str = Field(description="Resolved path of the LeRobotDataset v3.0 directory.")
    preset: str = Field("cpu", description="Dynamics model preset (tiny, cpu, ge, ltx); unused with init_from.")
    stage: Literal["pretrain", "finetune"] = Field(
        "pretrain", description="'pretrain': every task's episodes; 'finetune': init_from + one task's episodes."
    )
    task: str | None = Field(None, description="Finetune task: its string or index in meta/tasks.")
    init_from: str | None = Field(None, description="DynamicsModel (or run) directory to start from; VAE kept.")
    add_layers: int = Field(
        0,
        ge=0,
        description="Transformer blocks appended to init_from's, zero-initialised so the model starts unchanged "
        "(depth up-scaling of a model that underfits; see rise_env.models.dynamics.grow).",
    )
    vae_from: str | None = Field(
        None,
        description="DynamicsModel (or run) directory whose trained VAE is reused, frozen, under a new transformer "
        "of `preset` (skips the VAE phase); its VAE and resolution must be the preset's.",
    )
    steps: int = Field(2000, ge=0, description="Transformer optimisation steps in all.")
    batch_size: int = Field(8, ge=1, description="Windows per batch.")
    lr: float = Field(
        DEFAULT_LR,
        gt=0,
        description="AdamW learning rate of the transformer (train_dynamics_run gives a new run without one the "
        "model preset's, PRESET_LR).",
    )
    warmup_steps: int = Field(200, ge=0, description="Linear LR warm-up steps.")
    cooldown_steps: int = Field(
        0,
        ge=0,
        description="Linear LR decay to 0 over the last N of `steps` (0: constant LR to the end). May be set on "
        "resume, to cool down a constant-LR run from its latest checkpoint.",
    )
    vae_steps: int = Field(1000, ge=0, description="VAE steps before the transformer (0, init_from or vae_from skips).")
    vae_lr: float = Field(1e-3, gt=0, description="AdamW learning rate of the VAE (and of the decoder phase).")
    vae_cooldown_steps: int = Field(
        0,
        ge=0,
        description="Linear decay of the VAE's (and the decoder phase's) LR to 0 over the last N of its steps (0: "
        "constant). May be set on resume, with vae_steps, to cool down a constant-LR VAE phase.",
    )
    decoder_steps: int = Field(
        0,
        ge=0,
        description="Steps that train the decoder alone on the frozen encoder's latents, after the VAE phase or on "
        "init_from's / vae_from's VAE; the latent space is unchanged, so init_from's transformer stays valid.",
    )
    motion_weight: float = Field(
        0.0, ge=0, description="Weight of the frame-difference L1 (missing or invented motion) in the VAE/decoder loss."
    )
    vae_clip_frames: int = Field(
        9, ge=1, description="VAE/decoder phase: frames per clip (1 + k x temporal ratio; 0 < k), cut at random."
    )
    vae_views: int = Field(1, ge=1, description="VAE/decoder phase: views per window trained on (drawn at random).")
    vae_crop: tuple[int, int] | None = Field(
        None,
        description="VAE/decoder phase: train on random (height, width) crops of the frames, each a multiple of the "
        "VAE's spatial ratio (None: whole frames). The VAE is convolutional, so crops teach it whole frames at a "
        "fraction of the cost per step.",
    )
    episodes_per_batch: int = Field(2, ge=1, description="Task-centric batching: episodes per batch.")
    action_dropout: float = Field(
        0.0, ge=0, lt=1, description="Fraction of samples trained on the null action (for action guidance)."
    )
    latent_motion_weight: float = Field(
        0.0,
        ge=0,
        description="Transformer loss: extra weight on the latents that change over the chunk (0: plain MSE; "
        "weights keep mean 1, see transformer.motion_weights).",
    )
    seed: int = Field(0, description="Seed of init, split and sampling.")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="Fraction of episodes held out (seeded).")
    bf16: bool = Field(True, description="bfloat16 autocast of the forward pass on CUDA (no effect on CPU).")
    checkpoint_every: int = Field(500, ge=1, description="Steps between resumable checkpoints.")
    checkpoint_seconds: float = Field(600.0, gt=0, description="Also checkpoint when this much time has passed.")
    keep_checkpoints: int = Field(2, ge=1, description="Newest checkpoints kept.")
    device: str = Field("auto", description="'auto' (CUDA when available), 'cpu' or 'cuda[:i]'.")
    log_every: int = Field(10, ge=1, description="Steps between TensorBoard scalars.")
    workers: int = Field(0, ge=0, description="DataLoader worker processes.")
    window_stride: int = Field(
        1, ge=1, description="Train the transformer on the windows starting every N-th frame (1: every frame)."
    )
    latent_cache: str | None = Field(
        None,
        description="Folder of pre-encoded latents of the training windows (float16; built before the transformer "
        "phase, resumable): the phase then skips the frozen VAE encoder. Best with window_stride > 1.",
    )
    frame_cache: str | None = Field(
        None,
        description="Folder of the resized-frame cache, used when the model's resolution differs from the "
        "dataset's (default RUN/frame_cache; share one between runs of the same resolution).",
    )

    @model_validator(mode="after")
    def _add_layers_needs_init_from(self) -> DynamicsTrainConfig:
        if self.add_layers and not self.init_from:
            raise ValueError(
                f"add_layers={self.add_layers} deepens the transformer of init_from, and no init_from was given"
            )
        return self

    @model_validator(mode="after")
    def _cooldown_fits(self) -> DynamicsTrainConfig:
        if self.cooldown_steps > self.steps:
            raise ValueError(
                f"cooldown_steps={self.cooldown_steps} is more than steps={self.steps}: the decay must fit"
            )
        phases = self.autoencoder_phases
        if self.vae_cooldown_steps and not phases:
            raise ValueError(
                f"vae_cooldown_steps={self.vae_cooldown_steps} decays the VAE/decoder phase, and none runs "
                "(the VAE phase needs vae_steps > 0 and no init_from / vae_from; the decoder phase decoder_steps > 0)"
            )
        for phase, steps in phases.items():
            if self.vae_cooldown_steps > steps:
                raise ValueError(
                    f"vae_cooldown_steps={self.vae_cooldown_steps} is more than {phase}_steps={steps}: the decay "
                    "must fit in each VAE/decoder phase"
                )
        return self

    @property
    def autoencoder_phases(self) -> dict[str, int]:
        """Steps of each autoencoder phase the run has, in order: ``vae`` (trains the whole VAE; none
        with init_from / vae_from), then ``decoder`` (the decoder alone)."""
        phases = {}
        if self.vae_steps > 0 and not (self.init_from or self.vae_from):
            phases["vae"] = self.vae_steps
        if self.decoder_steps > 0:
            phases["decoder"] = self.decoder_steps
        return phases


def build_config(given: dict[str, Any], saved: dict[str, Any] | None) -> DynamicsTrainConfig:
    """The run's config: ``given`` (explicit CLI values) on a fresh run; ``saved`` on resume.

    Raises:
        ConfigMismatchError: resuming with a non-operational field that differs from ``saved``,
            naming every differing field with its saved and given values.
    """
    if saved is None:
        return DynamicsTrainConfig(**given)
    old = DynamicsTrainConfig(**saved)
    new = DynamicsTrainConfig(**{**saved, **given})
    diff = [
        f"{k}: run has {getattr(old, k)!r}, given {getattr(new, k)!r}"
        for k in DynamicsTrainConfig.model_fields
        if k not in OPERATIONAL_FIELDS and getattr(old, k) != getattr(new, k)
    ]
    if diff:
        raise ConfigMismatchError(
            "refusing to resume with a changed config (" + "; ".join(diff) + "). Pass the run's values, or "
            f"start a new run in another --out. Only {', '.join(sorted(OPERATIONAL_FIELDS))} may change on resume."
        )
    return new


def resolve_task(task: str | None, tasks: list[str]) -> int:
    """Index of ``task`` (a task string or its index) in ``tasks``; the only task when ``task`` is None."""
    if task is None:
        if len(tasks) == 1:
            return 0
        raise ValueError(f"--task is required with --stage finetune on a dataset of {len(tasks)} tasks: {tasks}")
    if task.isdigit() and int(task) < len(tasks):
        return int(task)
    if task in tasks:
        return tasks.index(task)
    raise ValueError(f"--task {task!r} is neither a task string nor an index of the dataset's tasks {tasks}")

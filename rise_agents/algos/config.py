"""Training configuration (pydantic, every field documented) and the named presets of each algorithm.

``get_train_config("bc", "cpu", steps=500)`` builds the ``cpu`` preset of ``bc`` with one field
overridden; a typo in the algorithm or preset name answers "did you mean …".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rise_env.models.vla.config import resolve_preset

TASKS: dict[str, str] = {
    "brick_sorting": "sort the bricks into the bins",
    "backpack_packing": "pack the items into the backpack",
    "box_closing": "close the box",
}
"""Task names known to the CLIs → default instruction (the dataset's own task strings win when present)."""


class TrainConfig(BaseModel):
    """Everything that fixes a training run; saved as ``RUN/train_config.json`` and checked on resume."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algo: str = Field("bc", description="Algorithm name (bc, recap, recap-online, ppo, dsrl, dagger).")
    preset: str = Field("cpu", description="Preset this config was built from (informational).")
    task: str = Field("brick_sorting", description="Task name (one of rise_agents.algos.config.TASKS).")
    data: str | None = Field(None, description="LeRobotDataset v3.0 directory with the offline episodes.")
    out: str | None = Field(None, description="Run directory; default runs/<algo>_<task>.")
    policy_preset: str = Field("cpu", description="Policy size preset: tiny, cpu or pi05.")
    init_from: str | None = Field(None, description="Policy directory (save_pretrained) to start from.")
    number_embedding_init: bool = Field(
        False, description="A fresh policy starts its number-token embeddings with a sin-cos code of their value.",
    )
    continuous_state: bool = Field(
        False, description="A fresh policy also gets the state as one continuous token leading the action expert "
        "(π0's state_proj), besides the 256-bin state tokens of the prompt.",
    )
    delta_actions: bool = Field(
        False, description="A fresh policy predicts arm joints relative to the current state (grippers absolute), "
        "with action statistics computed on those deltas (openpi DeltaActions).",
    )
    steps: int = Field(3000, gt=0, description="Optimiser steps of the whole run.")
    batch_size: int = Field(16, gt=0, description="Samples per optimiser step.")
    lr: float = Field(1e-4, gt=0, description="Peak learning rate (paper: cosine 1e-4).")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Final LR as a fraction of the peak (paper: 0.1).")
    warmup_steps: int = Field(100, ge=0, description="Linear LR warm-up steps from 0 to the peak.")
    weight_decay: float = Field(1e-2, ge=0, description="AdamW decoupled weight decay.")
    betas: tuple[float, float] = Field((0.9, 0.95), description="AdamW (beta1, beta2).")
    grad_clip: float = Field(1.0, gt=0, description="Global gradient-norm clip.")
    ema_decay: float = Field(0.995, ge=0, lt=1, description="EMA decay of the rollout/eval weights (paper 0.995).")
    advantage_bin: int = Field(10, ge=0, description="Prompted bin for demos/corrections (10 = top, 0 = none).")
    include_corrections: bool = Field(False, description="Also train on 'correction' episodes (bc/dagger).")
    seed: int = Field(0, description="Seed of the initial weights, batch sampling and flow noise.")
    min_norm_span: float = Field(
        0.02, ge=0, lt=1, description="Floor of every normalisation range (q99 - q01) as a fraction of the joint "
        "limit range: joints that never move in the demos must not blow up other data's targets.",
    )
    # ---- advantage labels (recap, recap-online)
    value_model: str | None = Field(
        None, description="ValueModel folder that labels offline rollouts (default: the bundled world model's)."
    )
    label_stride: int = Field(2, gt=0, description="Value every k-th recorded frame, interpolated between (labels).")
    advantage_scale: float = Field(5.0, gt=0, description="Advantage multiplier before clamping to [-1, 1] (Eq. 2).")
    # ---- self-improving loop (recap-online)
    world_model: str | None = Field(None, description="CompositionalWorldModel folder (default: the bundled one).")
    initial_states: str | None = Field(None, description="InitialStateBank folder (default: the bundled one).")
    offline_ratio: float = Field(0.6, ge=0, le=1, description="Fraction of each batch drawn from offline data.")
    online_action: bool = Field(True, description="Train on online (imagined-rollout) actions; off = offline only.")
    online_state: bool = Field(
        True, description="Keep chunks that start from imagined states (chained chunks); off = first chunks only."
    )
    rollout_slots: int = Field(8, gt=0, description="Imagined episodes stepped together per rollout stage.")
    rollout_chunks: int = Field(2, gt=0, description="Chained chunks per imagined episode (paper: <= 2).")
    rollouts_per_stage: int = Field(1, gt=0, description="Batches of rollout_slots episodes per rollout stage.")
    steps_per_stage: int = Field(50, gt=0, description="Optimiser steps between two rollout stages.")
    online_buffer: int = Field(512, gt=0, description="Most recent online samples kept for training.")
    eval_trials: int = Field(0, ge=0, description="Twin trials before / after training (and at eval_every).")
    eval_every: int = Field(0, ge=0, description="Evaluate in the twin every this many steps (0: only before/after).")
    eval_seed: int = Field(1000, description="Twin trial i uses seed eval_seed + i.")
    frame_cache: str | None = Field(
        None, description="Folder for the resized-frame cache (uint8 .npy per episode); default RUN/frame_cache."
    )
    checkpoint_every: int = Field(500, gt=0, description="Checkpoint every this many steps.")
    checkpoint_every_s: float = Field(300.0, gt=0, description="Also checkpoint when this many seconds have passed.")
    keep_checkpoints: int = Field(2, ge=1, description="Most recent checkpoints kept on disk.")
    log_every: int = Field(10, gt=0, description="Steps between TensorBoard / metrics.jsonl entries.")
    time_budget_s: float | None = Field(
        None, gt=0, description="Stop cleanly (checkpoint + final policy) after this wall time, frame caching included."
    )
    num_threads: int | None = Field(None, gt=0, description="torch CPU threads; None keeps torch's default.")

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        resolve_preset(self.task, tuple(TASKS), "task")
        return self

    def run_dir(self) -> str:
        return self.out or f"runs/{self.algo}_{self.task}"


# Fields that may change between a run and its resume without changing what is trained.
RESUMABLE_FIELDS = frozenset(
    {"out", "data", "frame_cache", "checkpoint_every", "checkpoint_every_s", "keep_checkpoints", "log_every",
     "time_budget_s", "num_threads"}
)

_BC_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(policy_preset="tiny", steps=60, batch_size=4, warmup_steps=4, checkpoint_every=20, log_every=1,
                 lr=3e-3, num_threads=1),
    # One torch thread: on 2 cores shared with other jobs it measured 4-10x faster per step than two.
    "cpu": dict(policy_preset="cpu", steps=3000, batch_size=16, warmup_steps=200, lr=3e-4, checkpoint_every=250,
                time_budget_s=7000.0, num_threads=1),
    "pi05": dict(policy_preset="pi05", steps=30000, batch_size=32, warmup_steps=1000, lr=2.5e-5,
                 checkpoint_every=1000),
}

_RECAP_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(_BC_PRESETS["tiny"], label_stride=4),
    # Warm-up of the loop: offline advantage conditioning, started from the BC policy (init_from).
    "cpu": dict(_BC_PRESETS["cpu"], steps=1500, warmup_steps=50),
    "pi05": dict(_BC_PRESETS["pi05"]),
}

_ONLINE_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(_BC_PRESETS["tiny"], steps=8, steps_per_stage=4, rollout_slots=2, batch_size=4, online_buffer=16),
    # The main job: bundled warm-up policy, world model and initial states; <= 15 min on 2 cores.
    "cpu": dict(policy_preset="cpu", steps=240, steps_per_stage=40, batch_size=16, warmup_steps=0, lr=1e-4,
                checkpoint_every=40, rollout_slots=8, eval_trials=5, num_threads=2, time_budget_s=840.0),
    # Paper Table X: batch 64, cosine 1e-4 (min ratio 0.1), offline ratio 0.6, EMA 0.995.
    "paper": dict(policy_preset="pi05", steps=20000, steps_per_stage=200, batch_size=64, warmup_steps=200, lr=1e-4,
                  checkpoint_every=1000, rollout_slots=64, rollouts_per_stage=4, online_buffer=16384,
                  eval_trials=20, eval_every=5000),
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "bc": _BC_PRESETS, "recap": _RECAP_PRESETS, "recap-online": _ONLINE_PRESETS,
}
"""algo → preset name → field values over the TrainConfig defaults."""


def get_train_config(algo: str, preset: str = "cpu", **overrides: Any) -> TrainConfig:
    """Named preset of ``algo`` with ``overrides`` applied (None values are ignored)."""
    from rise_agents.algos import resolve_algo

    algo = resolve_algo(algo)
    presets = PRESETS[algo]
    preset = resolve_preset(preset, tuple(presets), f"{algo} preset")
    values = {**presets[preset], **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig(algo=algo, preset=preset, **values)

"""``python -m rise_env.train dynamics``: train the dynamics model on a LeRobotDataset v3.0 folder.

python -m rise_env.train dynamics --data DIR --preset cpu --out RUN [--steps N --batch-size B --vae-steps N]

Phase 1 trains the video autoencoder on the windows' future clips (skipped with ``--vae-steps 0`` or
``--init-from``) and fits its latent statistics; phase 2 trains the transformer by flow matching on
task-centric batches (few tasks, few episodes per batch). Actions and state are normalised with the
dataset's per-dimension min/max. The model is written to ``RUN/model`` (config.json +
model.safetensors), the losses to ``RUN/train_log.jsonl``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dynamics",
        help="train the action-conditioned video dynamics model",
        description="Train the VAE (optional) then the flow-matching transformer on a LeRobotDataset.",
    )
    p.add_argument("--data", required=True, help="LeRobotDataset v3.0 directory")
    p.add_argument("--out", required=True, help="run directory (model written to OUT/model)")
    p.add_argument("--preset", default="cpu", help="dynamics preset: tiny, cpu, ge, ltx (default cpu)")
    p.add_argument("--init-from", help="DynamicsModel directory to start from (its VAE is kept frozen)")
    p.add_argument("--steps", type=int, default=2000, help="transformer optimisation steps")
    p.add_argument("--batch-size", type=int, default=8, help="windows per batch")
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate of the transformer")
    p.add_argument("--warmup-steps", type=int, default=200, help="linear LR warm-up steps")
    p.add_argument("--vae-steps", type=int, default=1000, help="VAE steps before the transformer (0 skips)")
    p.add_argument("--vae-lr", type=float, default=1e-3, help="AdamW learning rate of the VAE")
    p.add_argument("--episodes-per-batch", type=int, default=2, help="task-centric batching: episodes per batch")
    p.add_argument("--seed", type=int, default=0, help="seed of init and sampling")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    p.set_defaults(func=run_train)


def dataset_config(preset: str, reader) -> object:
    """Preset config adapted to the dataset: views, resolution and the action min/max."""
    from rise_env.data.layout import ACTION
    from rise_env.models.dynamics.config import get_preset

    first = reader.camera_frames(0, reader.cameras[0])
    h, w = int(first.shape[1]), int(first.shape[2])
    if ACTION not in reader.stats:
        raise ValueError(f"{reader.root} has no '{ACTION}' statistics (meta/stats.json); finalize the dataset")
    low = np.asarray(reader.stats[ACTION]["min"], np.float64)
    high = np.asarray(reader.stats[ACTION]["max"], np.float64)
    flat = high - low < 1e-6  # a constant dimension: keep a unit range around it
    low, high = np.where(flat, low - 0.5, low), np.where(flat, high + 0.5, high)
    base = get_preset(preset)
    tasks = max(base.transformer.num_tasks, len(reader.tasks))
    return get_preset(
        preset,
        transformer=base.transformer.model_copy(update={"num_tasks": tasks}),
        views=len(reader.cameras),
        height=h,
        width=w,
        action_dim=len(low),
        action_low=low.tolist(),
        action_high=high.tolist(),
    )


def run_train(args: argparse.Namespace) -> int:
    from torch.utils.data import DataLoader

    from rise_env.data import DynamicsWindowDataset, LeRobotDatasetReader, TaskCentricBatchSampler, WindowConfig
    from rise_env.models.dynamics.checkpoint import write_json
    from rise_env.models.dynamics.model import DynamicsModel
    from rise_env.models.dynamics.training import DynamicsTrainer, train_vae

    torch.manual_seed(args.seed)
    reader = LeRobotDatasetReader(args.data)
    if args.init_from:
        model = DynamicsModel.from_pretrained(args.init_from)
    else:
        model = DynamicsModel(dataset_config(args.preset, reader))
    cfg = model.config
    windows = DynamicsWindowDataset(
        reader, WindowConfig(memory_frames=cfg.memory_frames, chunk=cfg.action_horizon, future_stride=cfg.action_stride)
    )
    if len(windows) == 0:
        raise ValueError(f"{args.data} yields no training windows")

    def loader(steps: int) -> DataLoader:
        sampler = TaskCentricBatchSampler.from_dataset(
            windows, args.batch_size, episodes_per_batch=args.episodes_per_batch, num_batches=steps, seed=args.seed
        )
        return DataLoader(windows, batch_sampler=sampler, num_workers=0)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = []
    if args.vae_steps > 0 and not args.init_from:
        clips = (b["future_frames"] for b in loader(args.vae_steps))
        for i, loss in enumerate(train_vae(model, clips, args.vae_steps, lr=args.vae_lr, seed=args.seed)):
            log.append({"phase": "vae", "step": i, "loss": loss})
        model.codec.fit_stats(next(iter(loader(1)))["future_frames"])

    trainer = DynamicsTrainer(model, lr=args.lr, warmup_steps=args.warmup_steps, seed=args.seed)
    batches = loader(args.steps)
    if args.progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, total=args.steps, desc="dynamics")
    for i, batch in enumerate(batches):
        stats = trainer.step(batch)
        log.append({"phase": "dynamics", "step": i, **stats})
    model.save_pretrained(out / "model")
    (out / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    write_json(out / "run.json", {"args": vars(args) | {"func": None}, "windows": len(windows), "preset": cfg.preset})
    last = [r["loss"] for r in log if r["phase"] == "dynamics"][-10:]
    print(
        f"trained {len(last) and trainer.steps_done} dynamics steps; final loss {np.mean(last):.4f} -> {out / 'model'}"
    )
    return 0

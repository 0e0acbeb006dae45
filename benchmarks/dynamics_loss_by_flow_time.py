"""Flow-matching loss of dynamics models at fixed flow times: where along the flow does each one fit?

Training averages the loss over logit-normal flow times t (median 0.55; t = 1 is noise), so two models
with the same training loss can fit different parts of the flow, and sampling starts at t = 1. This
script scores each model at a few fixed t on the same windows of a training run (its training or
held-out episodes, at its ``--window-stride``) with the same noise, and prints a table:

    python benchmarks/dynamics_loss_by_flow_time.py --data data/brick_sorting --run runs/c8_scratch \\
        --checkpoint runs/c8_scratch_model_10000 --checkpoint runs/c8_long_model_17000 \\
        --frame-cache runs/frame_cache_96x128 --windows 48
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

from rise_env.data import DynamicsWindowDataset, LeRobotDatasetReader, WindowConfig, episode_windows
from rise_env.data.frames import frames_at_size
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.models.dynamics.run import resolve_model_dir
from rise_env.utils.atomic import read_json
from rise_env.utils.provenance import write_result_json

TIMES = (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)


def run_windows(windows: DynamicsWindowDataset, run: dict, split: str, count: int, seed: int) -> list[int]:
    """Up to ``count`` window ids (sorted, drawn with ``seed``) of the run's ``split`` episodes at its stride."""
    episodes = run[f"{split}_episodes"]
    ids = episode_windows(windows, episodes, run["config"]["window_stride"])
    if len(ids) == 0:
        raise ValueError(f"the run's {split} episodes {episodes} give no windows in this dataset")
    pick = np.random.default_rng(seed).choice(ids, min(count, len(ids)), replace=False)
    return sorted(int(i) for i in pick)


@torch.no_grad()
def loss_by_flow_time(
    model: DynamicsModel, batches: list[dict[str, torch.Tensor]], times: tuple[float, ...], seed: int = 0
) -> dict[float, float]:
    """Mean loss at each flow time in ``times``; batch ``k`` draws its noise from seed ``seed + k``, so
    models with latents of one shape see the same noise."""
    encoded = [model.encode_batch(batch) for batch in batches]
    figures = {}
    for t in times:
        losses = [
            model.loss(batch, generator=torch.Generator().manual_seed(seed + k), t=t) for k, batch in enumerate(encoded)
        ]
        figures[t] = float(torch.cat(losses).mean())
    return figures


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="LeRobotDataset v3.0 directory the run trained on")
    p.add_argument("--run", required=True, help="training run directory (its run.json gives episodes and stride)")
    p.add_argument("--checkpoint", action="append", required=True, help="dynamics model or run to score (repeat)")
    p.add_argument("--split", choices=("train", "val"), default="train", help="the run's training or held-out episodes")
    p.add_argument("--windows", type=int, default=48, help="windows scored, drawn at random from the split")
    p.add_argument("--times", type=float, nargs="+", default=TIMES, help="flow times, 1 = noise")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0, help="seed of the window draw and of the noise")
    p.add_argument("--frame-cache", help="resized-frame cache of a training run, reused when given")
    p.add_argument("--out", default="benchmarks/results/dynamics_loss_by_flow_time.json")
    args = p.parse_args(argv)
    if args.windows < 1 or args.batch_size < 1:
        p.error(f"--windows and --batch-size must be >= 1, got {args.windows} and {args.batch_size}")
    run = read_json(Path(args.run) / "run.json")
    models = {
        c: DynamicsModel.from_pretrained(resolve_model_dir(Path(c)), map_location="cpu").eval() for c in args.checkpoint
    }
    configs = {
        (m.config.memory_frames, m.config.action_horizon, m.config.action_stride, m.config.height, m.config.width)
        for m in models.values()
    }
    if len(configs) != 1:
        raise ValueError(f"the models must share memory frames, chunk, stride and frame size; got {sorted(configs)}")
    c = next(iter(models.values())).config
    reader = LeRobotDatasetReader(args.data)
    frames = frames_at_size(reader, (c.height, c.width), args.frame_cache)
    wc = WindowConfig(memory_frames=c.memory_frames, chunk=c.action_horizon, future_stride=c.action_stride)
    windows = DynamicsWindowDataset(reader, wc, frames)
    ids = run_windows(windows, run, args.split, args.windows, args.seed)
    batches = [
        default_collate([windows[i] for i in ids[k : k + args.batch_size]]) for k in range(0, len(ids), args.batch_size)
    ]
    times = tuple(args.times)
    losses = {name: loss_by_flow_time(model, batches, times, args.seed) for name, model in models.items()}
    print(f"\nflow-matching loss by flow time t (1 = noise): {len(ids)} {args.split} windows of {args.run}")
    width = max(len(name) for name in losses)
    print(f"{'model':>{width}} | " + " | ".join(f"t={t:<5}" for t in times))
    for name, row in losses.items():
        print(f"{name:>{width}} | " + " | ".join(f"{row[t]:7.3f}" for t in times))
    figures = {
        "data": args.data,
        "data_fingerprint": reader.fingerprint,
        "run": args.run,
        "split": args.split,
        "windows": len(ids),
        "times": list(times),
        "loss": {name: [row[t] for t in times] for name, row in losses.items()},
    }
    return write_result_json(args.out, figures)


if __name__ == "__main__":
    main()

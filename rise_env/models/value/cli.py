"""Command-line entries of the value model (mounted by ``rise_env.train`` / ``rise_env.evaluate``).

python -m rise_env.train value --data DIR --preset cpu --out RUN [--steps N --batch-size B --init-from POLICY]
python -m rise_env.evaluate value --data DIR --checkpoint CKPT --out JSON [--episodes val --plot PNG]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rise_env.models.value.config import get_value_config, get_value_train_config


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "value",
        help="train the progress + TD value model",
        description="Train (or resume, if OUT has checkpoints) the value model.",
    )
    p.add_argument("--data", required=True, help="LeRobotDataset v3.0 directory")
    p.add_argument("--out", required=True, help="run directory (resumed when it holds checkpoints)")
    p.add_argument("--preset", default="cpu", help="model + training preset: tiny, cpu, pi05 (default cpu)")
    p.add_argument("--init-from", help="policy / VLA / π0.5 checkpoint directory to copy the backbone from")
    p.add_argument("--steps", type=int, help="total optimisation steps")
    p.add_argument("--batch-size", type=int, help="frames per batch")
    p.add_argument("--lr", type=float, help="AdamW learning rate")
    p.add_argument("--progress-only-fraction", type=float, help="fraction of steps with the progress loss alone")
    p.add_argument("--gamma", type=float, help="TD discount per recorded frame")
    p.add_argument("--progress-weight", type=float, help="weight of the progress loss (0 with "
                   "--progress-only-fraction 0: TD only)")
    p.add_argument("--td-weight", type=float, help="weight of the TD loss (--progress-only-fraction 1: progress only)")
    p.add_argument("--target-ema", type=float, help="0: stop-grad TD on the online net; >0: Polyak target decay")
    p.add_argument("--progress-sources", nargs="+", help="sources whose successful episodes get t/T (default demo)")
    p.add_argument("--frame-stride", type=int, help="keep every k-th frame in memory (default: fit --max-bank-gb)")
    p.add_argument("--max-bank-gb", type=float, help="memory budget of preloaded frames, GiB")
    p.add_argument("--val-fraction", type=float, help="fraction of episodes held out")
    p.add_argument("--checkpoint-every", type=int, help="steps between resumable checkpoints")
    p.add_argument("--seed", type=int, help="seed of init, split and sampling")
    p.add_argument("--gradient-checkpointing", action="store_true", help="recompute Gemma layers (saves memory)")
    p.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation at the end")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    import torch

    from rise_env.models.value.run import train_value

    if args.threads:
        torch.set_num_threads(args.threads)
    model_cfg = get_value_config(args.preset)
    if args.gradient_checkpointing:
        model_cfg = model_cfg.model_copy(update={"gradient_checkpointing": True})
    train_cfg = get_value_train_config(
        args.preset,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        progress_only_fraction=args.progress_only_fraction,
        gamma=args.gamma,
        progress_weight=args.progress_weight,
        td_weight=args.td_weight,
        target_ema=args.target_ema,
        progress_sources=tuple(args.progress_sources) if args.progress_sources else None,
        frame_stride=args.frame_stride,
        max_bank_gb=args.max_bank_gb,
        val_fraction=args.val_fraction,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
    )
    train_value(args.data, args.out, model_cfg, train_cfg, init_from=args.init_from, evaluate=not args.no_eval)
    return 0


def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "value",
        help="evaluate a value model on recorded episodes",
        description="Spearman(V, t/T) on successful episodes and success/failure ROC-AUC.",
    )
    p.add_argument("--data", required=True, help="LeRobotDataset v3.0 directory")
    p.add_argument("--checkpoint", required=True, help="value model dir, a run dir (uses RUN/model) or a checkpoint")
    p.add_argument("--out", required=True, help="result JSON path (e.g. benchmarks/results/value_brick_sorting.json)")
    p.add_argument(
        "--episodes",
        default="all",
        help="'all', 'val' (the run's held-out split; needs a run dir) or comma-separated indices",
    )
    p.add_argument("--frame-stride", type=int, default=5, help="evaluate every k-th frame (and the last)")
    p.add_argument("--end-fraction", type=float, default=0.1, help="tail of each episode scored for the AUC")
    p.add_argument("--plot", help="PNG of value curves (default: next to --out)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=run_evaluate)


def resolve_model_dir(path: str | Path) -> Path:
    """A value-model directory, or a run / resumable checkpoint directory holding ``model/``."""
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    if (path / "model" / "config.json").is_file():
        return path / "model"
    raise FileNotFoundError(f"{path} holds neither config.json nor model/config.json (expected a value model)")


def run_evaluate(args: argparse.Namespace) -> int:
    import torch

    from rise_env.data.reader import LeRobotDatasetReader
    from rise_env.data.split import choose_episodes
    from rise_env.models.value.evaluation import evaluate_value_model
    from rise_env.models.value.model import ValueModel
    from rise_env.utils.provenance import write_result_json

    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = Path(args.checkpoint)
    model = ValueModel.from_pretrained(resolve_model_dir(ckpt))
    reader = LeRobotDatasetReader(args.data)
    plot = Path(args.plot) if args.plot else Path(args.out).with_suffix(".png")
    episodes = choose_episodes(args.episodes, ckpt, reader.num_episodes)
    result = evaluate_value_model(model, reader, episodes, args.frame_stride, args.end_fraction, plot)
    result.update(
        data=str(args.data),
        data_fingerprint=reader.fingerprint,
        checkpoint=str(ckpt),
        model=model.cfg.name,
        num_parameters=model.num_parameters(),
    )
    write_result_json(args.out, result)
    print(
        f"spearman_progress={result['spearman_progress']:.3f} auc_success_failure="
        f"{result['auc_success_failure']:.3f} episodes={result['episodes']} -> {args.out}"
    )
    return 0

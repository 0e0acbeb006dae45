"""``python -m rise_env.train dynamics`` / ``python -m rise_env.evaluate dynamics``.

Train on a LeRobotDataset v3.0 folder::

    python -m rise_env.train dynamics --data DIR --out RUN [--preset cpu --steps N --batch-size B --vae-steps N]

Phase 1 trains the video autoencoder on the training windows' future clips and fits its latent
statistics, written to ``RUN/vae`` when done (skipped with ``--vae-steps 0`` or ``--init-from``). An
optional decoder phase (``--decoder-steps N``) then tunes the decoder alone on the frozen encoder's
latents, written to ``RUN/decoder``: the latents do not change, so the transformer of an ``--init-from``
model stays valid (``--motion-weight`` adds an L1 on frame differences to the loss). Both phases may
train on random ``--vae-crop H W`` crops, and ``--vae-cooldown-steps N`` decays their learning rate
linearly to 0 over their last N steps. ``--add-layers N`` appends N blocks to the ``--init-from``
transformer that start as the identity (``grow.deepened``). The last phase trains the transformer by
flow matching (logit-normal t, AdamW with linear warm-up) on task-centric batches;
``--cooldown-steps N`` decays the learning rate linearly to 0 over the last N steps, and since it may
change on resume, a constant-rate run can be cooled down later by resuming it with a higher
``--steps``. Every phase writes resumable checkpoints (``RUN/checkpoints/vae_*``, ``decoder_*``,
``step_*``) every ``--checkpoint-every`` steps or ``--checkpoint-seconds``, whichever comes first.
Running the same command again resumes from the newest checkpoint (bit-exactly on CPU); a changed setting other than
--steps, --cooldown-steps, --vae-steps, --vae-cooldown-steps, checkpoint cadence, --device, --log-every,
--workers, --frame-cache or --latent-cache is refused. ``--latent-cache DIR`` encodes the transformer's
training windows once (float16, resumable) and trains on those latents: on 2 CPU cores a batch-8 ``cpu``
step drops from 1.3 s to about 0.3 s. ``--window-stride N`` keeps the windows starting every N-th frame,
which bounds that encoding (about 0.15 s per window on 2 cores). A preset below the dataset's resolution
(``cpu``: 96x128) reads resized frames from a cache of one ``.npy`` per episode (``RUN/frame_cache`` or
``--frame-cache``; ~80 MB per 1000 frames of 3 views; it serves only the collection whose fingerprint it
records). ``--val-fraction`` episodes (seeded) are held out and listed in ``RUN/run.json``. bf16
autocast is used on CUDA only (``--no-bf16`` turns it off). Outputs: ``RUN/model`` (config.json +
model.safetensors), ``RUN/train_log.jsonl``, TensorBoard scalars in ``RUN/tb``.

The ``cpu`` preset imagines at 96x128 (16x spatial / 4x temporal VAE; ``cpu-fine``: 8x/4x;
``cpu-fine-t2``: 8x/2x; ``cpu-fine-t2-c8``: 8x/2x with 8 latent channels). How the bundled model was
trained, what it measures, and the decoder phase, CPU fine-tunes, cool-down and the finer VAEs measured
on freshly collected data are in ``docs/dynamics_model.md``. A run on the brick-sorting twin dataset
(190 episodes recorded at 192x256, 3 views; 10% held out) and its evaluation::

    python -m rise_env.train dynamics --data data/brick_sorting --out runs/dynamics_96 --stage pretrain \
        --preset cpu --steps 1500 --vae-steps 1500 --vae-lr 3e-4 --batch-size 8 --episodes-per-batch 8 \
        --lr 3e-4 --warmup-steps 100 --checkpoint-every 250 --threads 2 --frame-cache runs/frame_cache_96x128
    python -m rise_env.evaluate dynamics --data data/brick_sorting --checkpoint runs/dynamics_96 \
        --episodes val --steps 50 --max-windows 16 --out runs/dynamics_96/eval.json \
        --video runs/dynamics_96/eval.mp4 --threads 2 --frame-cache runs/frame_cache_96x128

(8 min to cache the resized frames, 17 min of VAE, 42 min of transformer on two cores; 1500 transformer
steps do not yet teach the model to follow actions.) With more compute, pre-train and fine-tune the
transformer for tens of thousands of steps::

    python -m rise_env.train dynamics --data data/brick_sorting --out runs/dynamics_pretrain \
        --stage pretrain --preset cpu --steps 20000 --vae-steps 5000 --vae-lr 3e-4 --episodes-per-batch 8 \
        --threads 2
    python -m rise_env.train dynamics --data data/brick_sorting --out runs/dynamics_brick_sorting \
        --stage finetune --init-from runs/dynamics_pretrain --task 0 --steps 5000 --warmup-steps 100 --threads 2

``data/brick_sorting`` holds one task, so its fine-tuning stage sees the same episodes as the
pre-training (task 0); with several tasks in one dataset, pre-train on all of them and fine-tune once
per task (``--task`` takes the task string or its index in ``meta/tasks.parquet``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rise_env.models.dynamics.config import PRESETS

# argparse dest -> DynamicsTrainConfig field, for flags that default to None (saved value on resume)
_FIELDS = (
    "preset stage task init_from add_layers vae_from steps batch_size lr warmup_steps cooldown_steps vae_steps vae_lr "
    "vae_cooldown_steps "
    "decoder_steps motion_weight vae_clip_frames vae_views vae_crop "
    "episodes_per_batch action_dropout latent_motion_weight seed val_fraction checkpoint_every checkpoint_seconds "
    "keep_checkpoints device "
    "log_every workers frame_cache window_stride latent_cache"
).split()


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dynamics",
        help="train the action-conditioned video dynamics model",
        description="Train (or resume, when OUT has checkpoints) the VAE then the flow-matching transformer.",
    )
    p.add_argument("--data", required=True, help="LeRobotDataset v3.0 directory")
    p.add_argument("--out", required=True, help="run directory (model written to OUT/model; resumed if present)")
    p.add_argument("--preset", help=f"dynamics preset: {', '.join(PRESETS)} (default cpu)")
    p.add_argument("--stage", choices=("pretrain", "finetune"), help="pretrain: all tasks (default); finetune: one")
    p.add_argument("--task", help="finetune: task string or index (default: the only task)")
    p.add_argument("--init-from", help="DynamicsModel or run directory to start from (its VAE is kept frozen)")
    p.add_argument(
        "--add-layers", type=int, help="with --init-from: transformer blocks appended, starting as identity (default 0)"
    )
    p.add_argument("--vae-from", help="model or run directory whose trained VAE a new transformer is trained on")
    p.add_argument("--steps", type=int, help="transformer optimisation steps in all (default 2000)")
    p.add_argument("--batch-size", type=int, help="windows per batch (default 8)")
    p.add_argument(
        "--lr",
        type=float,
        help="AdamW learning rate of the transformer (default: the model preset's measured rate, 3e-3 for cpu and "
        "1e-4 for the others; with --init-from, that model's preset)",
    )
    p.add_argument("--warmup-steps", type=int, help="linear LR warm-up steps (default 200)")
    p.add_argument("--cooldown-steps", type=int, help="linear LR decay to 0 over the last N steps (default 0)")
    p.add_argument("--vae-steps", type=int, help="VAE steps before the transformer, 0 skips (default 1000)")
    p.add_argument("--vae-lr", type=float, help="AdamW learning rate of the VAE and of the decoder (default 1e-3)")
    p.add_argument(
        "--vae-cooldown-steps", type=int, help="linear decay of the VAE/decoder LR to 0 over its last N steps (0)"
    )
    p.add_argument("--decoder-steps", type=int, help="steps tuning the decoder alone on the frozen encoder (default 0)")
    p.add_argument("--motion-weight", type=float, help="weight of the frame-difference L1 in the VAE loss (default 0)")
    p.add_argument("--vae-clip-frames", type=int, help="VAE/decoder phase: frames per random clip (default 9)")
    p.add_argument("--vae-views", type=int, help="VAE/decoder phase: random views per window (default 1)")
    p.add_argument(
        "--vae-crop",
        type=int,
        nargs=2,
        metavar=("HEIGHT", "WIDTH"),
        help="VAE/decoder phase: random crops, multiples of the VAE's spatial ratio (default: whole frames)",
    )
    p.add_argument("--episodes-per-batch", type=int, help="task-centric batching: episodes per batch (default 2)")
    p.add_argument("--action-dropout", type=float, help="fraction of samples trained on the null action (default 0)")
    p.add_argument(
        "--latent-motion-weight", type=float, help="transformer loss: extra weight on moving latents (default 0)"
    )
    p.add_argument("--seed", type=int, help="seed of init, split and sampling (default 0)")
    p.add_argument("--val-fraction", type=float, help="fraction of episodes held out (default 0.1)")
    p.add_argument("--checkpoint-every", type=int, help="steps between resumable checkpoints (default 500)")
    p.add_argument("--checkpoint-seconds", type=float, help="also checkpoint after this many seconds (default 600)")
    p.add_argument("--keep-checkpoints", type=int, help="newest checkpoints kept (default 2)")
    p.add_argument("--device", help="auto (default: CUDA when available), cpu or cuda[:i]")
    p.add_argument("--no-bf16", dest="bf16", action="store_false", default=None, help="no bf16 autocast on CUDA")
    p.add_argument("--log-every", type=int, help="steps between TensorBoard scalars (default 10)")
    p.add_argument("--workers", type=int, help="DataLoader worker processes (default 0)")
    p.add_argument("--frame-cache", help="folder of frames resized to the model's resolution (default RUN/frame_cache)")
    p.add_argument("--window-stride", type=int, help="transformer: train on windows starting every N-th frame (1)")
    p.add_argument("--latent-cache", help="folder of pre-encoded training latents: the transformer skips the VAE")
    p.add_argument("--resume", action="store_true", help="require a checkpoint in OUT to resume from")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    import torch

    from rise_env.models.dynamics.run import train_dynamics_run
    from rise_env.models.dynamics.runconfig import ConfigMismatchError

    if args.threads:
        torch.set_num_threads(args.threads)
    given = {k: getattr(args, k) for k in (*_FIELDS, "bf16") if getattr(args, k) is not None}
    for key in ("init_from", "vae_from"):
        if given.get(key):
            given[key] = str(Path(given[key]).resolve())
    try:
        train_dynamics_run(args.out, {**given, "data": args.data}, resume=args.resume, progress=args.progress)
    except ConfigMismatchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def add_evaluate_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dynamics",
        help="fidelity of imagined futures on recorded episodes",
        description="PSNR / SSIM / flow EPE vs the copy-last-frame baseline, controllability; real | imagined mp4.",
    )
    p.add_argument("--data", required=True, help="LeRobotDataset v3.0 directory")
    p.add_argument("--checkpoint", required=True, help="dynamics model dir, a run dir (RUN/model) or a checkpoint")
    p.add_argument("--out", required=True, help="result JSON (e.g. benchmarks/results/dynamics_brick_sorting.json)")
    p.add_argument("--episodes", default="val", help="'val' (the run's held-out split, default), 'all' or 1,4,7")
    p.add_argument("--steps", type=int, default=50, help="Euler steps per imagined chunk (paper: 50 for eval)")
    p.add_argument("--max-windows", type=int, default=32, help="windows scored, spread evenly over the episodes")
    p.add_argument("--batch-size", type=int, default=4, help="windows per batch (>= 2: actions are swapped within)")
    p.add_argument(
        "--window-stride",
        type=int,
        default=1,
        help="score only windows starting every N-th frame (a run's --window-stride: the windows it trained on)",
    )
    p.add_argument("--video", help="mp4 path: rows = views, columns = real | imagined")
    p.add_argument("--video-windows", type=int, default=4, help="windows shown in the video")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling noise")
    p.add_argument("--frame-cache", help="resized-frame cache of the training run, reused when given")
    p.add_argument("--guidance", type=float, help="action guidance weight (default: the model's action_guidance)")
    p.add_argument(
        "--guidance-interval",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help="flow times (LO, HI] whose steps are guided, 1 = noise (default: the model's; 0 1 = all)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:i]")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    import torch

    from rise_env.data import LeRobotDatasetReader
    from rise_env.data.split import choose_episodes
    from rise_env.models.dynamics.evalrun import evaluate_run
    from rise_env.models.dynamics.model import DynamicsModel
    from rise_env.models.dynamics.run import resolve_model_dir
    from rise_env.utils.provenance import write_result_json

    if args.threads:
        torch.set_num_threads(args.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    ckpt = Path(args.checkpoint)
    model = DynamicsModel.from_pretrained(resolve_model_dir(ckpt), map_location=device)
    reader = LeRobotDatasetReader(args.data)
    episodes = choose_episodes(args.episodes, ckpt, reader.num_episodes)
    result = evaluate_run(
        model,
        reader,
        episodes,
        steps=args.steps,
        max_windows=args.max_windows,
        batch_size=args.batch_size,
        video=args.video,
        video_windows=args.video_windows,
        seed=args.seed,
        frame_cache=args.frame_cache,
        guidance=args.guidance,
        guidance_interval=args.guidance_interval,
        window_stride=args.window_stride,
    )
    result.update(data=str(args.data), checkpoint=str(ckpt), preset=model.config.preset, video=args.video)
    write_result_json(args.out, result)
    print(
        f"psnr {result['psnr']:.2f} (copy-last {result['psnr_copy_last']:.2f}), ssim {result['ssim']:.3f}, "
        f"epe {result['epe']:.3f}, flow speed {result['flow_speed']:.2f} px/frame (real "
        f"{result['flow_speed_real']:.2f}), flow cosine {result['flow_cosine']:.2f}, "
        f"controllability {result['controllability_ratio']:.3f} "
        f"on {result['windows']} windows -> {args.out}"
    )
    return 0

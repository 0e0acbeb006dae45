"""The dynamics training run: split, autoencoder phases, flow-matching loop, checkpoints, resume, TensorBoard.

Run directory layout::

    RUN/run.json                      DynamicsTrainConfig, train/val episodes (+ task), dataset fingerprint
    RUN/vae/                          model after the VAE phase (VAE trained, latent stats fitted)
    RUN/decoder/                      model after the decoder phase (decoder tuned on the frozen encoder)
    RUN/checkpoints/step_XXXXXXXX/    resumable: model/, optimizer.safetensors, trainer_state.json
    RUN/checkpoints/vae_XXXXXXXX/     the same during the VAE phase (removed once RUN/vae is written)
    RUN/checkpoints/decoder_XXXXXXXX/ the same during the decoder phase (removed once RUN/decoder is written)
    RUN/model/                        final DynamicsModel (config.json + model.safetensors)
    RUN/train_log.jsonl               one row per step: phase, step, loss (+ grad_norm, lr)
    RUN/tb/                           TensorBoard scalars (when tensorboard is installed)

The phases run in that order: VAE (not with init_from / vae_from), decoder (``decoder_steps > 0``),
transformer. The decoder phase leaves the encoder and latent statistics as they are, so the latents,
and an init_from transformer trained on them, stay valid. Every phase writes resumable checkpoints at
the same cadence. Starting again on a RUN resumes from the newest checkpoint (a phase is skipped
once its ``RUN/<phase>`` exists), bit-exactly on CPU.

With ``latent_cache`` the transformer phase first encodes its windows (those starting every
``window_stride``-th frame) into that folder, resumably, then reads latents instead of frames
(``rise_env.models.dynamics.latent_cache``)."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from rise_env.data import (
    DynamicsWindowDataset,
    LeRobotDatasetReader,
    TaskCentricBatchSampler,
    WindowConfig,
    episode_windows,
)
from rise_env.data.frames import frames_at_size
from rise_env.data.layout import ACTION
from rise_env.data.split import split_episodes
from rise_env.models.dynamics.checkpoint import CONFIG_NAME, WEIGHTS_NAME, load_checked, read_state_dict
from rise_env.models.dynamics.config import PRESETS, DynamicsConfig, get_preset
from rise_env.models.dynamics.grow import deepened
from rise_env.models.dynamics.latent_cache import build_latent_cache
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.models.dynamics.runconfig import (
    DEFAULT_LR,
    PRESET_LR,
    DynamicsTrainConfig,
    build_config,
    resolve_task,
)
from rise_env.models.dynamics.training import DynamicsTrainer, linear_cooldown
from rise_env.models.dynamics.vae import AutoencoderTrainer
from rise_env.utils.atomic import atomic_directory, atomic_write_json, atomic_write_text, read_json
from rise_env.utils.checkpointing import (
    STATE_NAME,
    checkpoint_dirs,
    checkpoint_path,
    generator_state,
    load_training_checkpoint,
    prune_checkpoints,
    save_training_checkpoint,
    set_generator_state,
)

RUN_NAME = "run.json"
LOG_NAME = "train_log.jsonl"


def resolve_model_dir(path: str | Path) -> Path:
    """A DynamicsModel directory, or a run / checkpoint directory holding ``model/``."""
    path = Path(path)
    for cand in (path, path / "model"):
        if (cand / "config.json").is_file():
            return cand
    raise FileNotFoundError(f"{path} holds neither config.json nor model/config.json (expected a dynamics model)")


def default_lr(given: dict[str, Any]) -> float:
    """The transformer's rate for a new run given no ``lr``: the model preset's (``PRESET_LR``, else
    ``DEFAULT_LR``). The preset is ``init_from``'s own when given, so fine-tuning a large model never
    inherits the small ``cpu`` preset's high rate."""
    preset = given.get("preset", DynamicsTrainConfig.model_fields["preset"].default)
    if given.get("init_from"):
        preset = read_json(resolve_model_dir(given["init_from"]) / "config.json").get("preset", preset)
    return PRESET_LR.get(preset, DEFAULT_LR)


class _Batches:
    """Batches ``start..steps-1`` of a task-centric sampler over a subset of window ids."""

    def __init__(self, sampler: TaskCentricBatchSampler, ids: np.ndarray, start: int) -> None:
        self.sampler, self.ids, self.start = sampler, ids, start

    def __len__(self) -> int:
        return max(len(self.sampler) - self.start, 0)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in itertools.islice(iter(self.sampler), self.start, None):
            yield self.ids[batch].tolist()


def _loader(windows, ids: np.ndarray, cfg: DynamicsTrainConfig, steps: int, start: int = 0):
    """Task-centric batches of ``windows`` (a DynamicsWindowDataset or CachedLatentWindows) over ``ids``."""
    sampler = TaskCentricBatchSampler(
        windows.sample_episode_index[ids],
        cfg.batch_size,
        episodes_per_batch=cfg.episodes_per_batch,
        sample_task_index=windows.sample_task_index[ids],
        num_batches=steps,
        seed=cfg.seed,
    )
    return DataLoader(windows, batch_sampler=_Batches(sampler, ids, start), num_workers=cfg.workers)


def vae_batches(windows: DynamicsWindowDataset, ids: np.ndarray, batch_size: int, steps: int, start: int, seed: int):
    """Future frames ``(B, K, V, H, W, 3)`` of windows drawn uniformly from ``ids``, one batch per step.

    Batch ``s`` depends only on ``(seed, s)``, so a resumed VAE phase sees the batches it would have
    seen. The VAE reconstructs frames, so it gets no task-centric grouping: batches of 4 windows
    from each of 2 episodes left the ``cpu`` VAE at the dataset's mean image (loss 0.70 after 3000
    steps), while uniform batches reach 0.27 within 250 steps.
    """
    for step in range(start, steps):
        pick = np.random.default_rng([seed, step]).choice(ids, size=batch_size)
        yield torch.stack([windows.future_frames(int(i)) for i in pick])


def _read_log(path: Path) -> list[dict]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a crash
                break
    return rows


def _tensorboard(path: Path, purge_step: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(path), purge_step=purge_step or None)


def _split(cfg: DynamicsTrainConfig, reader: LeRobotDatasetReader) -> dict[str, Any]:
    """Train/val episodes; a finetune keeps the held-out episodes of the run it starts from."""
    train, val = split_episodes(reader.num_episodes, cfg.val_fraction, cfg.seed)
    split: dict[str, Any] = {"train_episodes": train, "val_episodes": val, "task_index": None}
    if cfg.stage == "finetune":
        parent = Path(cfg.init_from or "") / RUN_NAME
        if parent.is_file() and read_json(parent).get("config", {}).get("data") == cfg.data:
            held = set(read_json(parent)["val_episodes"])
            val = sorted(held)
            train = [e for e in range(reader.num_episodes) if e not in held]
        task = resolve_task(cfg.task, reader.tasks)
        keep = {e for e in range(reader.num_episodes) if reader.episodes[e].task_index == task}
        split = {
            "train_episodes": [e for e in train if e in keep],
            "val_episodes": [e for e in val if e in keep],
            "task_index": task,
        }
        if not split["train_episodes"]:
            raise ValueError(f"task {reader.tasks[task]!r} has no training episode in {cfg.data}")
    return split


def dataset_config(preset: str, reader: LeRobotDatasetReader) -> DynamicsConfig:
    """Preset config adapted to the dataset: views, task count, action min/max and the resolution.

    A preset that names a resolution (``cpu``: 96x128) keeps it and is fed resized frames; the others
    (``ge``, ``ltx``) take the dataset's.
    """
    if "height" in PRESETS[preset]:
        h, w = PRESETS[preset]["height"], PRESETS[preset]["width"]
    else:
        h, w = reader.resolution
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


def model_with_vae_of(source: str | Path, config: DynamicsConfig) -> DynamicsModel:
    """A new model of ``config`` (fresh transformer) carrying the trained VAE of ``source``.

    ``source`` is a DynamicsModel or run directory; only its ``codec.*`` weights are read, so a file
    holding just those (any float dtype) is enough. Raises if its VAE or resolution differ from ``config``'s.
    """
    src = resolve_model_dir(source)
    theirs = DynamicsConfig.model_validate_json((src / CONFIG_NAME).read_text())
    for name in ("vae", "height", "width", "views"):
        if getattr(theirs, name) != getattr(config, name):
            raise ValueError(
                f"--vae-from {source}: its {name} is {getattr(theirs, name)!r}, the preset {config.preset!r} "
                f"needs {getattr(config, name)!r}"
            )
    model = DynamicsModel(config)
    prefix = "codec."
    weights = read_state_dict(src / WEIGHTS_NAME)
    state = {k[len(prefix) :]: v.float() for k, v in weights.items() if k.startswith(prefix)}
    load_checked(model.codec, state, strict=True)
    return model


def _new_model(cfg: DynamicsTrainConfig, reader: LeRobotDatasetReader) -> DynamicsModel:
    if cfg.init_from and cfg.vae_from:
        raise ValueError("give --init-from (a whole model to continue) or --vae-from (its VAE only), not both")
    if cfg.vae_from:
        return model_with_vae_of(cfg.vae_from, dataset_config(cfg.preset, reader))
    if cfg.init_from:
        model = DynamicsModel.from_pretrained(resolve_model_dir(cfg.init_from))
        tasks = model.config.transformer.num_tasks
        if tasks and len(reader.tasks) > tasks:
            raise ValueError(f"{cfg.init_from} embeds {tasks} tasks but {cfg.data} has {len(reader.tasks)}")
        return deepened(model, cfg.add_layers) if cfg.add_layers else model
    return DynamicsModel(dataset_config(cfg.preset, reader))


def random_clips(
    frames: torch.Tensor,
    length: int,
    views: int,
    generator: torch.Generator,
    crop: tuple[int, int] | None = None,
) -> torch.Tensor:
    """``(B, T, V, H, W, 3)`` -> ``(B * views, length, 1, h, w, 3)``: one random clip per sampled view,
    cut to a random ``crop = (h, w)`` window when given (else ``h, w = H, W``).

    The VAE is convolutional, so short single-view clips and crops teach it what whole chunks need at
    a fraction of the cost (a 9-frame view is ~8x cheaper than 25 frames x 3 views; a half-size crop
    4x cheaper again).
    """
    b, t, v, height, width = frames.shape[:5]
    length, views = min(length, t), min(views, v)
    h, w = crop or (height, width)
    if not (0 < h <= height and 0 < w <= width):
        raise ValueError(f"crop {h}x{w} does not fit in the {height}x{width} frames")
    clips = []
    for i in range(b):
        start = int(torch.randint(0, t - length + 1, (1,), generator=generator))
        for view in torch.randperm(v, generator=generator)[:views].tolist():
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator)) if crop else 0
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator)) if crop else 0
            clips.append(frames[i, start : start + length, view : view + 1, top : top + h, left : left + w])
    return torch.stack(clips)


def _autoencoder_phase(model: DynamicsModel, cfg: DynamicsTrainConfig, windows, ids, out: Path, log, phase: str):
    """Train the VAE (``phase="vae"``, then fit latent stats) or its decoder alone (``"decoder"``) and
    write ``RUN/<phase>``, resuming from ``RUN/checkpoints/<phase>_*``; those are removed once it is written."""
    ratio = model.config.temporal_ratio
    if (cfg.vae_clip_frames - 1) % ratio:
        raise ValueError(
            f"vae_clip_frames must be 1 + k * {ratio} (the VAE's temporal ratio), got {cfg.vae_clip_frames}"
        )
    if cfg.vae_crop and any(side % model.config.spatial_ratio for side in cfg.vae_crop):
        raise ValueError(
            f"vae_crop must be multiples of {model.config.spatial_ratio} (the VAE's spatial ratio), got {cfg.vae_crop}"
        )
    decoder_only = phase == "decoder"
    steps = cfg.autoencoder_phases[phase]
    prefix = f"{phase}_"
    vae = model.codec.vae
    trainer = AutoencoderTrainer(vae, lr=cfg.vae_lr, motion_weight=cfg.motion_weight, decoder_only=decoder_only)
    gen = torch.Generator().manual_seed(cfg.seed)
    start = 0
    ckpts = checkpoint_dirs(out, prefix)
    if ckpts:
        load_checked(model, read_state_dict(ckpts[-1] / "model" / WEIGHTS_NAME))
        state = load_training_checkpoint(ckpts[-1], trainer.optimizer)
        set_generator_state(gen, state["generator"])
        start = int(state["step"])
        print(f"resuming the {phase} phase of {out} from {ckpts[-1].name}")

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp / "model")

    last_save = time.monotonic()
    for step, frames in enumerate(vae_batches(windows, ids, cfg.batch_size, steps, start, cfg.seed), start):
        clips = random_clips(frames, cfg.vae_clip_frames, cfg.vae_views, gen, cfg.vae_crop)
        lr = cfg.vae_lr * linear_cooldown(step, steps, cfg.vae_cooldown_steps)
        log({"phase": phase, "step": step, "loss": trainer.step(clips, generator=gen, lr=lr)["loss"], "lr": lr})
        done = step + 1
        if done % cfg.checkpoint_every == 0 or time.monotonic() - last_save >= cfg.checkpoint_seconds:
            state = {"step": done, "generator": generator_state(gen)}
            save_training_checkpoint(checkpoint_path(out, done, prefix), write, trainer.optimizer, state)
            prune_checkpoints(out, cfg.keep_checkpoints, prefix)
            last_save = time.monotonic()
    vae.eval()
    vae.requires_grad_(False)
    if not decoder_only:
        model.codec.fit_stats(next(vae_batches(windows, ids, cfg.batch_size, 1, 0, cfg.seed + 1)).to(model.device))
    with atomic_directory(out / phase, overwrite=True) as tmp:
        model.save_pretrained(tmp)
    for old in checkpoint_dirs(out, prefix):
        shutil.rmtree(old, ignore_errors=True)


def train_dynamics_run(
    out: str | Path, given: dict[str, Any], resume: bool = False, progress: bool = True
) -> DynamicsModel:
    """Train (or resume) a dynamics model into the run directory ``out``; returns the final model.

    ``given`` holds the explicitly chosen :class:`DynamicsTrainConfig` fields (``data`` required).
    With ``resume`` a checkpoint must exist; without it one is used when present.
    """
    out = Path(out)
    given = {**given, "data": str(Path(given["data"]).resolve())}
    run = read_json(out / RUN_NAME) if (out / RUN_NAME).is_file() else None
    if run is not None and "config" not in run:
        raise ValueError(f"{out / RUN_NAME} was written by an older trainer; use a new --out")
    if run is None and "lr" not in given:
        given = {**given, "lr": default_lr(given)}
    cfg = build_config(given, None if run is None else run["config"])
    ckpts = checkpoint_dirs(out)
    if resume and not ckpts:
        raise FileNotFoundError(f"--resume: {out} has no checkpoint (expected {out}/checkpoints/step_*)")
    if cfg.stage == "finetune" and not cfg.init_from:
        raise ValueError("--stage finetune needs --init-from (a pretrained dynamics model or run directory)")
    if cfg.stage == "pretrain" and cfg.task is not None:
        raise ValueError("--task selects the episodes of --stage finetune; pretraining uses every task")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    reader = LeRobotDatasetReader(cfg.data)
    if run is not None and run.get("data_fingerprint", reader.fingerprint) != reader.fingerprint:
        raise ValueError(
            f"{cfg.data} is not the collection this run trained on (dataset fingerprint "
            f"{reader.fingerprint[:12]}..., the run's {run['data_fingerprint'][:12]}...); use a new --out"
        )
    split = (
        _split(cfg, reader) if run is None else {k: run[k] for k in ("train_episodes", "val_episodes", "task_index")}
    )

    torch.manual_seed(cfg.seed)
    vae_done = (out / "vae" / "config.json").is_file()
    decoder_done = (out / "decoder" / "config.json").is_file()
    if ckpts:
        model = DynamicsModel.from_pretrained(ckpts[-1] / "model")
    elif decoder_done:
        model = DynamicsModel.from_pretrained(out / "decoder")
    elif vae_done and not (cfg.init_from or cfg.vae_from):
        model = DynamicsModel.from_pretrained(out / "vae")
    else:
        model = _new_model(cfg, reader)
    model.to(device)
    mc = model.config
    frames = frames_at_size(reader, (mc.height, mc.width), cfg.frame_cache or out / "frame_cache")
    windows = DynamicsWindowDataset(
        reader,
        WindowConfig(memory_frames=mc.memory_frames, chunk=mc.action_horizon, future_stride=mc.action_stride),
        frames,
    )
    ids = episode_windows(windows, split["train_episodes"])
    if len(ids) == 0:
        raise ValueError(f"{cfg.data} yields no training windows from episodes {split['train_episodes']}")
    dynamics_ids = episode_windows(windows, split["train_episodes"], cfg.window_stride)  # the transformer's
    if run is None:
        out.mkdir(parents=True, exist_ok=True)
        counts = {"windows": int(len(ids)), "dynamics_windows": int(len(dynamics_ids))}
        run = {"config": cfg.model_dump(mode="json"), **split, **counts}
        run = {**run, "preset": mc.preset, "data_fingerprint": reader.fingerprint}
        atomic_write_json(out / RUN_NAME, run, indent=2)
    else:
        atomic_write_json(out / RUN_NAME, {**run, "config": cfg.model_dump(mode="json")}, indent=2)

    if frames is not None:
        frames.prepare(split["train_episodes"], progress=progress)
    start = int(read_json(ckpts[-1] / STATE_NAME)["step"]) if ckpts else 0
    phases = []  # autoencoder phases still to run, in order
    if not ckpts and not decoder_done:
        phases = [p for p in cfg.autoencoder_phases if not (p == "vae" and vae_done)]
    starts = {"dynamics": start, "vae": cfg.vae_steps, "decoder": cfg.decoder_steps}  # log rows kept below these
    for phase in phases:
        saved = checkpoint_dirs(out, f"{phase}_")
        starts[phase] = int(read_json(saved[-1] / STATE_NAME)["step"]) if saved else 0
    rows = [r for r in _read_log(out / LOG_NAME) if r["step"] < starts[r["phase"]]]
    atomic_write_text(out / LOG_NAME, "".join(json.dumps(r) + "\n" for r in rows))
    writer = _tensorboard(out / "tb", start)
    with open(out / LOG_NAME, "a") as log_file:

        def log(row: dict) -> None:
            log_file.write(json.dumps(row) + "\n")
            log_file.flush()
            if writer is not None and (row["step"] + 1) % cfg.log_every == 0:
                for key in ("loss", "lr", "grad_norm"):
                    if key in row:
                        writer.add_scalar(f"{row['phase']}/{key}", row[key], row["step"] + 1)

        for phase in phases:
            _autoencoder_phase(model, cfg, windows, ids, out, log, phase)
        trainer = DynamicsTrainer(
            model,
            lr=cfg.lr,
            warmup_steps=cfg.warmup_steps,
            total_steps=cfg.steps,
            cooldown_steps=cfg.cooldown_steps,
            seed=cfg.seed,
            bf16=cfg.bf16,
            action_dropout=cfg.action_dropout,
            latent_motion_weight=cfg.latent_motion_weight,
        )
        if ckpts:
            trainer.load_checkpoint(ckpts[-1])
            print(f"resuming {out} from {ckpts[-1].name}")
        if trainer.steps_done < cfg.steps:
            source = windows
            if cfg.latent_cache:
                source = build_latent_cache(cfg.latent_cache, model, windows, dynamics_ids, progress=progress)
            _dynamics_phase(trainer, cfg, source, dynamics_ids, out, log, progress)
    if writer is not None:
        writer.close()
    with atomic_directory(out / "model", overwrite=True) as tmp:
        model.save_pretrained(tmp)
    last = [r["loss"] for r in _read_log(out / LOG_NAME) if r["phase"] == "dynamics"][-10:]
    final = f"; final loss {np.mean(last):.4f}" if last else ""
    print(f"trained {trainer.steps_done} dynamics steps{final} -> {out / 'model'}")
    return model


def _dynamics_phase(trainer: DynamicsTrainer, cfg, windows, ids: np.ndarray, out: Path, log, progress: bool) -> None:
    start = trainer.steps_done
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc="dynamics")
    last_save = time.monotonic()
    try:
        for batch in _loader(windows, ids, cfg, cfg.steps, start):
            step = trainer.steps_done
            stats = trainer.step(batch)
            log({"phase": "dynamics", "step": step, **stats})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.4f}")
            done = trainer.steps_done
            due = done % cfg.checkpoint_every == 0 or time.monotonic() - last_save >= cfg.checkpoint_seconds
            if due or done == cfg.steps:
                trainer.save_checkpoint(checkpoint_path(out, done))
                prune_checkpoints(out, cfg.keep_checkpoints)
                last_save = time.monotonic()
    finally:
        if bar is not None:
            bar.close()

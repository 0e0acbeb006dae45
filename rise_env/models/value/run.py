"""The value-training run: data split, frame bank, loop with tqdm / TensorBoard, checkpoints, resume.

Run directory layout::

    RUN/run.json                    value + training config, data path, episode split, init source
    RUN/checkpoints/step_XXXXXXXX/  resumable checkpoints (newest ``keep_checkpoints`` kept)
    RUN/model/                      final value model (config.json + model.safetensors)
    RUN/tb/                         TensorBoard scalars (when tensorboard is installed)
    RUN/eval_val.json, RUN/value_curves_val.png   metrics and curves on the held-out episodes

Starting again on an existing RUN resumes from its newest checkpoint with the saved configs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from rise_env.data.reader import LeRobotDatasetReader
from rise_env.models.value.config import ValueConfig, ValueTrainConfig
from rise_env.models.value.data import FrameBank, auto_stride, split_episodes
from rise_env.models.value.evaluation import evaluate_value_model
from rise_env.models.value.model import ValueModel
from rise_env.models.value.training import ValueTrainer, checkpoint_dirs
from rise_env.utils.atomic import atomic_write_text

RUN_NAME = "run.json"


def _tensorboard(path: Path, purge_step: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional dependency
        return None
    return SummaryWriter(str(path), purge_step=purge_step or None)


def _check_progress_targets(reader: LeRobotDatasetReader, episodes: list[int], sources: tuple[str, ...]) -> None:
    ok = [e for e in episodes if reader.episodes[e].success and reader.episodes[e].source in sources]
    if not ok:
        found = sorted({(reader.episodes[e].source, reader.episodes[e].success) for e in episodes})
        raise ValueError(
            f"no successful training episode from sources {list(sources)} to fit the progress target; "
            f"the training split has (source, success) {found}. Set progress_sources (e.g. demo rollout)."
        )


def train_value(
    data: str | Path,
    out: str | Path,
    model_cfg: ValueConfig,
    train_cfg: ValueTrainConfig,
    init_from: str | Path | None = None,
    progress: bool = True,
    evaluate: bool = True,
) -> ValueModel:
    """Train (or resume) a value model on a LeRobotDataset v3.0 directory; returns the final model."""
    out = Path(out)
    reader = LeRobotDatasetReader(data, cache_episodes=1)  # episodes are decoded once each
    resume = checkpoint_dirs(out)
    if resume:
        run = json.loads((out / RUN_NAME).read_text())
        model_cfg = ValueConfig.model_validate(run["value"])
        saved = ValueTrainConfig.model_validate(run["train"])
        if saved.steps != train_cfg.steps:
            saved = saved.model_copy(update={"steps": train_cfg.steps})
        train_cfg = saved
        train_eps, val_eps, stride = run["train_episodes"], run["val_episodes"], run["frame_stride"]
        print(f"resuming {out} from {resume[-1].name}")
    else:
        train_eps, val_eps = split_episodes(reader.num_episodes, train_cfg.val_fraction, train_cfg.seed)
        _check_progress_targets(reader, train_eps, train_cfg.progress_sources)
        stride = train_cfg.frame_stride or auto_stride(
            reader, train_eps, model_cfg.image_size, model_cfg.num_views, train_cfg.max_bank_gb
        )
    if sorted(model_cfg.backbone.camera_names) != sorted(reader.cameras):
        raise ValueError(f"model views {model_cfg.backbone.camera_names} differ from dataset cameras {reader.cameras}")
    torch.manual_seed(train_cfg.seed)
    if init_from is not None and not resume:
        model = ValueModel.from_policy_checkpoint(
            init_from, head_hidden=model_cfg.head_hidden, output=model_cfg.output, task_names=tuple(reader.tasks)
        )
        model_cfg = model.cfg
    else:
        model_cfg = model_cfg.model_copy(update={"task_names": tuple(reader.tasks)})
        model = ValueModel(model_cfg)
    if not resume:
        run = {
            "data": str(Path(data).resolve()),
            "init_from": None if init_from is None else str(init_from),
            "value": model_cfg.model_dump(mode="json"),
            "train": train_cfg.model_dump(mode="json"),
            "train_episodes": train_eps,
            "val_episodes": val_eps,
            "frame_stride": stride,
            "num_parameters": model.num_parameters(),
        }
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / RUN_NAME, json.dumps(run, indent=2) + "\n")

    trainer = ValueTrainer(model, train_cfg)
    if resume:
        trainer.load_checkpoint(resume[-1])
    bank = FrameBank(
        reader,
        train_eps,
        model_cfg.image_size,
        stride,
        model_cfg.resize_mode,
        train_cfg.progress_sources,
        progress=progress,
    )
    print(
        f"value model: {model.num_parameters():,} parameters; {len(bank):,} frames "
        f"(stride {stride}) from {len(train_eps)} episodes; {len(val_eps)} held out"
    )
    writer = _tensorboard(out / "tb", trainer.step)
    bar = tqdm(total=train_cfg.steps, initial=trainer.step, desc="value", disable=not progress)
    try:
        while trainer.step < train_cfg.steps:
            logs = trainer.train_step(bank.sample(train_cfg.batch_size, trainer.rng))
            bar.update(1)
            bar.set_postfix(loss=f"{logs['loss']:.4f}", td=bool(logs["td_phase"]))
            if writer is not None and trainer.step % train_cfg.log_every == 0:
                for key, value in logs.items():
                    writer.add_scalar(f"value/{key}", value, trainer.step)
            if trainer.step % train_cfg.checkpoint_every == 0 or trainer.step == train_cfg.steps:
                _checkpoint(trainer, out, train_cfg.keep_checkpoints)
    finally:
        bar.close()
        if writer is not None:
            writer.flush()
    model.save_pretrained(out / "model")
    if evaluate and val_eps:
        result = evaluate_value_model(
            model,
            reader,
            val_eps,
            frame_stride=train_cfg.eval_frame_stride,
            plot_path=out / "value_curves_val.png",
            progress=progress,
        )
        atomic_write_text(out / "eval_val.json", json.dumps(result, indent=2) + "\n")
        if writer is not None:
            for key in ("spearman_progress", "auc_success_failure"):
                if np.isfinite(result[key]):
                    writer.add_scalar(f"eval/{key}", result[key], trainer.step)
        print(
            f"held-out: spearman_progress={result['spearman_progress']:.3f} "
            f"auc_success_failure={result['auc_success_failure']:.3f}"
        )
    if writer is not None:
        writer.close()
    return model


def _checkpoint(trainer: ValueTrainer, out: Path, keep: int) -> None:
    trainer.save_checkpoint(out / "checkpoints" / f"step_{trainer.step:08d}")
    for old in checkpoint_dirs(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)

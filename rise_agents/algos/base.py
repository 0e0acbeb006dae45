"""``Algorithm``: owns the training loop; subclasses supply only what is specific to them.

The loop: build the policy (fresh, or ``init_from``) with the dataset's normalisation stats; load
the chosen episodes as 50-step chunk samples; AdamW with linear warm-up + cosine decay; gradient
clipping; EMA update; tqdm; TensorBoard (when importable) and ``metrics.jsonl``; atomic
checkpoints every ``checkpoint_every`` steps or ``checkpoint_every_s`` seconds; resume from the
latest checkpoint with the same config. Batches and flow noise of step ``k`` depend only on
``(seed, k)``, so a resumed run repeats the uninterrupted run's losses exactly.

Subclass hooks: ``sources()`` (episode sources to train on), ``label(dataset)`` (per-frame
advantage bins), ``build_dataset()`` (the offline samples), ``next_batch(step)`` (what step ``k``
trains on), ``compute_loss(batch, generator)`` → (scalar loss, metrics), and ``extra_state()`` /
``restore_extra(tensors)`` for algorithm state that a checkpoint must carry.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rise_agents.algos import checkpoint as ckpt
from rise_agents.algos.config import RESUMABLE_FIELDS, TASKS, TrainConfig
from rise_agents.algos.data import ChunkDataset, delta_action_quantiles
from rise_agents.policies import AdvantageConditionedPolicy, NormStats, QuantileNormalizer, get_policy_config
from rise_agents.policies.advantage_policy import joint_delta_mask
from rise_env.data import LeRobotDatasetReader
from rise_env.utils import atomic_write_text

CONFIG_FILE, DATASET_FILE, METRICS_FILE = "train_config.json", "dataset.json", "metrics.jsonl"


def lr_at(step: int, cfg: TrainConfig) -> float:
    """LR of optimiser step ``step`` (1-based): linear warm-up, then cosine to ``min_lr_ratio · lr``."""
    if step <= cfg.warmup_steps:
        return cfg.lr * step / max(1, cfg.warmup_steps)
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine)


def _step_seed(seed: int, step: int) -> int:
    return int(np.random.default_rng([seed, step, 7]).integers(2**62))


class Algorithm:
    """Base trainer. ``Algorithm(config, resume=True).train()`` → the run directory."""

    name = "base"

    def __init__(self, config: TrainConfig, resume: bool = False, progress: bool = True) -> None:
        self.cfg, self.progress = config, progress
        self.run = Path(config.run_dir())
        self.ckpt_root = self.run / "checkpoints"
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.start_step, self.elapsed_s = 0, 0.0
        previous = ckpt.latest_checkpoint(self.ckpt_root)
        if previous is not None and not resume:
            raise FileExistsError(f"{self.run} already holds checkpoints; pass --resume or choose another --out")
        self.reader = self.open_data()
        self.policy = self._build_policy(previous)
        self.dataset = self.build_dataset()
        self.optimizer = torch.optim.AdamW(
            [p for p in self.policy.vla.parameters() if p.requires_grad],
            lr=config.lr, betas=config.betas, weight_decay=config.weight_decay,
        )
        if previous is not None:
            self._restore(previous)

    # ------------------------------------------------------------------ hooks
    def open_data(self) -> LeRobotDatasetReader | None:
        """The offline dataset (``--data``); required unless a subclass has another source."""
        if self.cfg.data is None:
            raise ValueError(f"--data is required for {self.cfg.algo}: a LeRobotDataset v3.0 directory")
        return LeRobotDatasetReader(self.cfg.data)

    def build_dataset(self):
        """Offline samples: the ``sources()`` episodes of ``--data``, labelled by ``label``."""
        dataset = ChunkDataset(
            self.reader,
            self.policy.config.vla.camera_names,
            self.policy.config.vla.vision.image_size,
            self.policy.config.vla.action_horizon,
            self.cfg.frame_cache or self.run / "frame_cache",
            sources=self.sources(),
            default_bin=self.cfg.advantage_bin,
        )
        self.label(dataset)
        return dataset

    def next_batch(self, step: int) -> dict:
        """The batch of optimiser step ``step`` (a function of the seed and the step)."""
        return self.dataset.batch(self.sample_ids(step))

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Algorithm tensors a checkpoint must carry besides the policy and optimiser."""
        return {}

    def restore_extra(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of ``extra_state`` when resuming."""

    def sources(self) -> tuple[str, ...]:
        """Episode sources this algorithm trains on."""
        return ("demo",)

    def label(self, dataset: ChunkDataset) -> None:
        """Set per-frame advantage bins (``dataset.set_bins``); default keeps ``cfg.advantage_bin`` for all."""

    def compute_loss(self, batch: dict, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean advantage-conditioned flow-matching loss; the bin of each sample comes from the batch."""
        return self.policy.loss(batch, generator=generator).mean(), {}

    # ------------------------------------------------------------------ setup
    def _build_policy(self, previous: Path | None) -> AdvantageConditionedPolicy:
        torch.manual_seed(self.cfg.seed)
        if previous is not None:
            self._check_resume_config()
            return AdvantageConditionedPolicy.from_pretrained(previous / ckpt.POLICY_DIR)
        if self.init_from():
            policy = AdvantageConditionedPolicy.from_pretrained(self.init_from())
            if self.cfg.delta_actions and policy.config.delta_action_mask is None:
                raise ValueError(f"--delta-actions: {self.init_from()} predicts absolute actions; a policy keeps "
                                 "the action space it was trained in (start fresh instead)")
            for flag, on in (("--number-embedding-init", self.cfg.number_embedding_init),
                             ("--continuous-state", self.cfg.continuous_state)):
                if on:
                    raise ValueError(f"{flag} shapes a fresh policy; {self.init_from()} brings its own network "
                                     "(drop --init-from or the flag)")
        else:
            stats_file = self.reader.root / "meta" / "stats.json"
            stats = NormStats.from_file(stats_file) if stats_file.is_file() else None
            tasks = [m.task for m in self.reader.episodes if m.task]
            task = max(set(tasks), key=tasks.count) if tasks else TASKS[self.cfg.task]
            mask = joint_delta_mask() if self.cfg.delta_actions else None
            pcfg = get_policy_config(
                self.cfg.policy_preset, task=task, ema_decay=self.cfg.ema_decay, delta_action_mask=mask
            )
            network = {"number_embedding_init": self.cfg.number_embedding_init,
                       "continuous_state_input": self.cfg.continuous_state}
            pcfg = pcfg.model_copy(update={"vla": pcfg.vla.model_validate({**pcfg.vla.model_dump(), **network})})
            if mask is not None:
                q01, q99 = delta_action_quantiles(self.reader, mask, pcfg.vla.action_horizon, seed=self.cfg.seed)
                base = stats or NormStats.from_robot()
                stats = NormStats(base.state, QuantileNormalizer(q01, q99, "actions"), base.source + ", delta actions")
            policy = AdvantageConditionedPolicy(pcfg, stats)
        # a new run (fresh or fine-tuned) floors its ranges; a resumed one keeps the stats it saved
        policy.norm_stats = policy.norm_stats.widened(self.cfg.min_norm_span, policy.robot)
        self._write_run_files()
        return policy

    def init_from(self) -> str | None:
        """Policy folder training starts from (``--init-from``)."""
        return self.cfg.init_from

    def _write_run_files(self) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.run / CONFIG_FILE, self.cfg.model_dump_json(indent=2) + "\n")
        if self.reader is None:
            return
        info = {
            "root": str(self.reader.root.resolve()),
            "cameras": {
                c: self.reader.features[k]["shape"][:2] for c, k in zip(self.reader.cameras, self.reader.video_keys)
            },
            "fps": self.reader.fps,
            "episodes": self.reader.num_episodes,
            "sources": sorted({m.source for m in self.reader.episodes}),
        }
        atomic_write_text(self.run / DATASET_FILE, json.dumps(info, indent=2) + "\n")

    def _check_resume_config(self) -> None:
        saved = TrainConfig.model_validate_json((self.run / CONFIG_FILE).read_text())
        diff = [k for k in TrainConfig.model_fields if k not in RESUMABLE_FIELDS
                and getattr(saved, k) != getattr(self.cfg, k)]
        if diff:
            pairs = ", ".join(f"{k}: saved {getattr(saved, k)!r} vs now {getattr(self.cfg, k)!r}" for k in diff)
            raise ValueError(f"cannot resume {self.run} with a different config ({pairs}); use another --out")
        atomic_write_text(self.run / CONFIG_FILE, self.cfg.model_dump_json(indent=2) + "\n")

    def _restore(self, path: Path) -> None:
        state, tensors = ckpt.read_checkpoint(path)
        ckpt.load_optimizer(self.optimizer, tensors, state["param_groups"])
        if self.policy.ema is not None:
            self.policy.ema.num_updates = int(state.get("ema_updates", 0))
        self.restore_extra(ckpt.read_extra(path))
        self.start_step, self.elapsed_s = int(state["step"]), float(state.get("elapsed_s", 0.0))
        metrics = self.run / METRICS_FILE
        if metrics.is_file():  # drop entries logged after the checkpoint we resume from
            keep = [ln for ln in metrics.read_text().splitlines() if ln and json.loads(ln)["step"] <= self.start_step]
            atomic_write_text(metrics, "".join(ln + "\n" for ln in keep))

    # ------------------------------------------------------------------ loop
    def sample_ids(self, step: int) -> np.ndarray:
        """Sample indices of step ``step``: uniform over samples, a function of (seed, step) only."""
        rng = np.random.default_rng([self.cfg.seed, step])
        return rng.integers(0, len(self.dataset), self.cfg.batch_size)

    def train_step(self, step: int) -> dict[str, float]:
        """One optimiser step (1-based ``step``) → metrics."""
        seed = _step_seed(self.cfg.seed, step)
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        batch = self.next_batch(step)
        self.policy.train()
        loss, metrics = self.compute_loss(batch, generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.vla.parameters(), self.cfg.grad_clip)
        lr = lr_at(step, self.cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        if self.policy.ema is not None:
            self.policy.update_ema()
        return {"loss": float(loss.detach()), "grad_norm": float(grad_norm), "lr": lr, **metrics}

    def train(self, stop_after: int | None = None) -> Path:
        """Run to ``cfg.steps`` (or stop after step ``stop_after`` without saving: an interruption)."""
        cfg = self.cfg
        started = time.monotonic() - self.elapsed_s  # the time budget includes frame caching
        self.dataset.prepare(self.progress)
        writer = _tensorboard(self.run / "tb")
        last_ckpt = time.monotonic()
        self.history: list[tuple[int, float]] = []
        bar = tqdm(range(self.start_step + 1, cfg.steps + 1), initial=self.start_step, total=cfg.steps,
                   desc=f"{cfg.algo} {cfg.task}", disable=not self.progress)
        step, finished = self.start_step, True
        for step in bar:
            metrics = self.train_step(step)
            self.history.append((step, metrics["loss"]))
            bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.2e}")
            if step % cfg.log_every == 0 or step == cfg.steps:
                self._log(step, metrics, writer)
            if stop_after is not None and step >= stop_after:
                return self.run
            if cfg.time_budget_s is not None and time.monotonic() - started > cfg.time_budget_s:
                finished = False
                break
            due = step % cfg.checkpoint_every == 0 or time.monotonic() - last_ckpt > cfg.checkpoint_every_s
            if due and step < cfg.steps:
                self.save(step, time.monotonic() - started)
                last_ckpt = time.monotonic()
        bar.close()
        self.save(step, time.monotonic() - started)
        self.policy.save_pretrained(self.run / ckpt.POLICY_DIR)
        atomic_write_text(self.run / "final.json", json.dumps({"step": step, "finished": finished}) + "\n")
        if writer is not None:
            writer.close()
        return self.run

    def save(self, step: int, elapsed_s: float) -> Path:
        ema = self.policy.ema.num_updates if self.policy.ema is not None else 0
        state = {"elapsed_s": elapsed_s, "ema_updates": ema, "config": self.cfg.model_dump(mode="json")}
        return ckpt.save_checkpoint(
            self.ckpt_root, step, self.policy, self.optimizer, state, self.cfg.keep_checkpoints, self.extra_state()
        )

    def _log(self, step: int, metrics: dict[str, float], writer) -> None:
        with open(self.run / METRICS_FILE, "a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        if writer is not None:
            for k, v in metrics.items():
                writer.add_scalar(f"train/{k}", v, step)


def _tensorboard(logdir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(logdir))

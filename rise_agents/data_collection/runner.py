"""Parallel, resumable collection of expert episodes into a LeRobotDataset v3.0.

Episode ``i`` of a run (demos first, then rollouts, then corrections) always uses seed
``seed + i`` and is staged under id ``i``, so it is the same whatever the worker count, and a run
killed at any point (even ``kill -9``) resumes by redoing only the episodes that were not staged.
Workers are spawned processes, each building its own env and renderer once.
"""

from __future__ import annotations

import difflib
import importlib
import multiprocessing as mp
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from tqdm import tqdm

from rise_agents.data_collection.recorder import record_episode
from rise_env.data import DatasetConfig, FinalizeReport, LeRobotDatasetWriter, VideoConfig
from rise_env.spec import agilex_cobot_magic


class TaskPreset(BaseModel):
    """Where a task's env and expert come from, and its instruction."""

    model_config = ConfigDict(frozen=True)

    instruction: str = Field(description="Task string stored in the dataset (meta/tasks.parquet).")
    env: str = Field(description="'module:attr' of the env class/factory (called with keyword options).")
    expert: str = Field(description="'module:attr' of make_expert(env, mode=..., seed=...).")


TASKS: dict[str, TaskPreset] = {
    "brick_sorting": TaskPreset(
        instruction="sort the bricks from the conveyor into the bins by colour",
        env="rise_agents.envs.sim:BrickSortingSimEnv",
        expert="rise_agents.envs.sim:make_expert",
    ),
}
SOURCES = ("demo", "rollout", "correction")


class CollectConfig(BaseModel):
    """Options of ``python -m rise_agents.collect``."""

    model_config = ConfigDict(frozen=True)

    task: str = Field("brick_sorting", description=f"Task preset: one of {sorted(TASKS)}.")
    demos: int = Field(0, ge=0, description="Expert demonstrations to record.")
    rollouts: int = Field(0, ge=0, description="Perturbed policy-like rollouts to record (successes and failures).")
    corrections: int = Field(0, ge=0, description="Rollouts with expert corrections (intervention flags set).")
    out: Path = Field(description="Dataset directory (LeRobotDataset v3.0); rerun the same command to resume.")
    workers: int = Field(1, ge=1, description="Parallel worker processes (spawned; one env each).")
    seed: int = Field(0, ge=0, description="Base seed: episode i uses seed + i.")
    height: int = Field(192, gt=0, description="Camera image height (even).")
    width: int = Field(256, gt=0, description="Camera image width (even).")
    chunk_size: int = Field(50, gt=0, description="Control steps per env.step (expert chunk).")
    crf: int = Field(23, ge=0, le=51, description="x264 quality of the camera videos (lower: better, larger).")
    dart_noise_rad: float = Field(
        0.0, ge=0, description="Demos only: execute the expert's joint targets with smooth noise of this std (rad) "
        "and record the clean targets (DART), so the demos show how to return to the trajectory.",
    )
    time_limit_s: float | None = Field(None, gt=0, description="Episode time limit in s (env default when None).")
    num_bricks: int | None = Field(None, gt=0, description="Bricks per episode (env default when None).")
    finalize: bool = Field(True, description="Write the v3.0 files once every episode is staged.")
    progress: bool = Field(True, description="Show a tqdm progress bar.")
    env_entry: str | None = Field(None, description="Advanced: 'module:attr' env factory overriding the preset.")
    expert_entry: str | None = Field(None, description="Advanced: 'module:attr' expert factory overriding the preset.")

    @field_validator("task")
    @classmethod
    def _known_task(cls, v: str) -> str:
        if v not in TASKS:
            close = difflib.get_close_matches(v, list(TASKS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown task {v!r}{hint} (available: {sorted(TASKS)})")
        return v

    @property
    def total(self) -> int:
        return self.demos + self.rollouts + self.corrections

    def dataset_config(self) -> DatasetConfig:
        return DatasetConfig(robot=agilex_cobot_magic(self.height, self.width), fps=30, video=VideoConfig(crf=self.crf))


@dataclass(frozen=True)
class EpisodeJob:
    """Episode ``episode_id`` in ``mode`` from ``seed``."""

    episode_id: int
    mode: str
    seed: int


@dataclass
class CollectReport:
    """Outcome of a run: staged counts per source and success, and the finalize report."""

    planned: int
    recorded_now: int
    resumed: int
    by_source: dict[str, dict[str, float]]
    finalize: FinalizeReport | None


def plan_jobs(cfg: CollectConfig) -> list[EpisodeJob]:
    """Demos, then rollouts, then corrections; episode ``i`` uses seed ``cfg.seed + i``."""
    modes = ["demo"] * cfg.demos + ["rollout"] * cfg.rollouts + ["correction"] * cfg.corrections
    return [EpisodeJob(i, m, cfg.seed + i) for i, m in enumerate(modes)]


def _load(entry: str) -> Any:
    module, _, attr = entry.partition(":")
    if not attr:
        raise ValueError(f"expected 'module:attr', got {entry!r}")
    return getattr(importlib.import_module(module), attr)


_WORKER: dict[str, Any] = {}


def _init_worker(cfg_json: str) -> None:
    """Build this process's env, expert factory and writer once."""
    cfg = CollectConfig.model_validate_json(cfg_json)
    preset = TASKS[cfg.task]
    kwargs: dict[str, Any] = {
        "chunk_size": cfg.chunk_size,
        "info_frame_hz": 30,
        "height": cfg.height,
        "width": cfg.width,
    }
    if cfg.time_limit_s is not None:
        kwargs["time_limit_s"] = cfg.time_limit_s
    if cfg.num_bricks is not None:
        kwargs["num_bricks"] = cfg.num_bricks
    _WORKER.update(
        cfg=cfg,
        env=_load(cfg.env_entry or preset.env)(**kwargs),
        make_expert=_load(cfg.expert_entry or preset.expert),
        writer=LeRobotDatasetWriter(cfg.out, cfg.dataset_config(), clean_partial=False),
    )


def _run_job(job: EpisodeJob) -> dict:
    """Record and stage one episode in this worker; returns a short summary."""
    cfg, writer = _WORKER["cfg"], _WORKER["writer"]
    if not writer.has_episode(job.episode_id):
        noise = _dart_noise(cfg, job)
        dart = {"execution_noise_rad": noise} if noise > 0 else None
        ep = record_episode(
            _WORKER["env"], _WORKER["make_expert"], job.mode, job.seed, TASKS[cfg.task].instruction, expert_kwargs=dart
        )
        if cfg.dart_noise_rad > 0:  # every episode of a DART run carries the column (0 for non-demos)
            ep.extras["dart_noise_rad"] = noise
        writer.add_episode(ep, episode_id=job.episode_id)
    meta = writer.staging.meta(job.episode_id)
    return {
        "episode_id": job.episode_id,
        "source": meta["source"],
        "success": meta["success"],
        "length": meta["length"],
    }


def _dart_noise(cfg: CollectConfig, job: EpisodeJob) -> float:
    """Execution-noise std of a job: ``cfg.dart_noise_rad`` for demos, 0 otherwise."""
    return cfg.dart_noise_rad if job.mode == "demo" else 0.0


def _check_staged(writer: LeRobotDatasetWriter, jobs: list[EpisodeJob], cfg: CollectConfig) -> None:
    """Refuse to resume into staging made by a different plan (other counts, seed, task or DART noise)."""
    by_id = {j.episode_id: j for j in jobs}
    for i in writer.staged_ids():
        meta = writer.staging.meta(i)
        job = by_id.get(i)
        extras = meta["extras"]
        if job is None or meta["source"] != job.mode or extras.get("seed") != job.seed:
            want = f"{job.mode} with seed {job.seed}" if job else "no episode"
            raise ValueError(
                f"{writer.root} already holds episode {i} ({meta['source']}, seed {extras.get('seed')}) where "
                f"this run plans {want}; resume with the same --demos/--rollouts/--corrections/--seed, "
                "or use a new --out"
            )
        if extras.get("dart_noise_rad", 0.0) != _dart_noise(cfg, job):
            raise ValueError(
                f"{writer.root} already holds episode {i} recorded with --dart-noise-rad "
                f"{extras.get('dart_noise_rad', 0.0)}; this run uses {cfg.dart_noise_rad} (use a new --out)"
            )


def _summary(writer: LeRobotDatasetWriter, jobs: list[EpisodeJob]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for j in jobs:
        if writer.has_episode(j.episode_id):
            meta = writer.staging.meta(j.episode_id)
            s = out.setdefault(meta["source"], {"episodes": 0, "successes": 0, "frames": 0})
            s["episodes"] += 1
            s["successes"] += int(meta["success"])
            s["frames"] += meta["length"]
    return out


def as_finished(pending: dict[Future, EpisodeJob]) -> Iterator[dict]:
    """Each job's result as soon as it finishes (so progress shows while workers run); on the first
    failure the jobs not started are cancelled and the error names the episode."""
    pending = dict(pending)
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for fut in finished:
            job = pending.pop(fut)
            err = fut.exception()
            if err is not None:
                for other in pending:
                    other.cancel()
                raise RuntimeError(f"episode {job.episode_id} ({job.mode}, seed {job.seed}) failed: {err}") from err
            yield fut.result()


def collect(cfg: CollectConfig) -> CollectReport:
    """Record every planned episode not staged yet (in parallel), then finalize the dataset."""
    writer = LeRobotDatasetWriter(cfg.out, cfg.dataset_config())  # also removes what killed workers left
    jobs = plan_jobs(cfg)
    _check_staged(writer, jobs, cfg)
    todo = [j for j in jobs if not writer.has_episode(j.episode_id)]
    bar = tqdm(
        total=len(jobs),
        initial=len(jobs) - len(todo),
        desc=f"collect {cfg.task}",
        unit="ep",
        disable=not cfg.progress,
        dynamic_ncols=True,
    )
    successes = 0

    def done(res: dict) -> None:
        nonlocal successes
        successes += int(res["success"])
        bar.update(1)
        bar.set_postfix(last=f"{res['source']}#{res['episode_id']}", success=successes)

    try:
        if cfg.workers == 1 or len(todo) <= 1:
            if todo:
                _init_worker(cfg.model_dump_json())
            for job in todo:
                done(_run_job(job))
        else:
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(
                min(cfg.workers, len(todo)), mp_context=ctx, initializer=_init_worker, initargs=(cfg.model_dump_json(),)
            ) as pool:
                for res in as_finished({pool.submit(_run_job, j): j for j in todo}):
                    done(res)
    finally:
        bar.close()
        _WORKER.clear()
    report = writer.finalize(progress=cfg.progress) if cfg.finalize else None
    return CollectReport(len(jobs), len(todo), len(jobs) - len(todo), _summary(writer, jobs), report)

"""``Evaluator``: N trials of a policy in the twin → success rate (Wilson 95%), mean score, per-trial table, videos."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from rise_agents.evaluation.chunks import ChunkExecutor
from rise_agents.evaluation.predictors import (
    EXPERT,
    ExpertPredictor,
    PolicyPredictor,
    dataset_resolution,
)
from rise_agents.evaluation.results import summarise
from rise_env.utils.video import tile_views, write_video


class EvalConfig(BaseModel):
    """One evaluation: which policy, which env, how many trials, how chunks are executed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str = Field(..., description="Training run / policy folder, or 'expert' for the scripted expert.")
    env: Literal["twin"] = Field("twin", description="Where to evaluate ('twin'; the robot comes later).")
    task: str = Field("brick_sorting", description="Task name (the twin has brick_sorting).")
    trials: int = Field(20, gt=0, description="Number of trials (paper: 20 per result).")
    seed: int = Field(0, description="Trial i uses seed + i for the env and the policy noise.")
    advantage_bin: int = Field(10, ge=0, description="Prompted advantage bin (10 = top, 0 = none).")
    execute_steps: int = Field(25, gt=0, description="Actions executed from each chunk before re-planning.")
    blend: Literal["linear", "none"] = Field("linear", description="How a new chunk joins the remaining plan.")
    num_steps: int | None = Field(None, gt=0, description="Euler steps of the policy's sampler (None: its default).")
    use_ema: bool | None = Field(None, description="Use the EMA weights (None: when the policy has them).")
    noise_temperature: float = Field(
        1.0, ge=0, description="Std of the policy's initial flow noise (below 1: nearer the modes; 0: deterministic)."
    )
    height: int | None = Field(None, gt=0, description="Camera height; None: the training data's, else the policy's.")
    width: int | None = Field(None, gt=0, description="Camera width; None: the training data's, else the policy's.")
    num_bricks: int = Field(4, ge=1, description="Bricks per episode.")
    time_limit_s: float = Field(30.0, gt=0, description="Episode length (s of simulated time).")
    video_dir: str | None = Field(None, description="Write mp4s (3 views tiled) of the first trials here.")
    video_trials: int = Field(3, ge=0, description="How many trials get a video.")
    compare_expert: bool = Field(False, description="Also run the scripted expert on the same seeds (reference row).")
    num_threads: int | None = Field(
        1, gt=0, description="torch CPU threads (1: a small policy's inference is fastest so on shared cores)."
    )

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.trials))


class Evaluator:
    """Owns the trial loop; ``run()`` → the result figures (DESIGN "Result files", without provenance)."""

    def __init__(self, config: EvalConfig, progress: bool = True) -> None:
        if config.task != "brick_sorting":
            raise ValueError(f"the twin implements task 'brick_sorting' only, got {config.task!r}")
        if config.num_threads:
            import torch

            torch.set_num_threads(config.num_threads)
        self.cfg, self.progress = config, progress
        self.predictor = ExpertPredictor() if config.policy == EXPERT else PolicyPredictor(
            config.policy, config.advantage_bin, config.num_steps, config.use_ema, config.noise_temperature
        )
        horizon = self.predictor.horizon
        if horizon is not None and config.execute_steps > horizon:
            raise ValueError(f"execute_steps={config.execute_steps} exceeds the policy's chunk length H={horizon}")
        self.height, self.width = self._resolution()

    def _resolution(self) -> tuple[int, int]:
        cfg = self.cfg
        if cfg.height and cfg.width:
            return cfg.height, cfg.width
        if isinstance(self.predictor, PolicyPredictor):
            known = dataset_resolution(self.predictor.dir)
            return known or tuple(self.predictor.policy.config.vla.vision.image_size)
        return 96, 128

    def make_env(self, render: bool):
        from rise_agents.envs.sim import BrickSortingSimEnv

        return BrickSortingSimEnv(
            chunk_size=self.cfg.execute_steps, height=self.height, width=self.width, num_bricks=self.cfg.num_bricks,
            time_limit_s=self.cfg.time_limit_s, render_cameras=render,
        )

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        per_trial = self.run_trials(self.predictor, cfg.policy)
        out = {
            "task": cfg.task, "env": cfg.env, "policy": cfg.policy, "trials": cfg.trials, "seeds": cfg.seeds,
            **summarise(per_trial), "per_trial": per_trial,
            "policy_dir": str(getattr(self.predictor, "dir", EXPERT)),
            "advantage_bin": cfg.advantage_bin, "execute_steps": cfg.execute_steps, "blend": cfg.blend,
            "env_config": {"num_bricks": cfg.num_bricks, "time_limit_s": cfg.time_limit_s,
                           "height": self.height, "width": self.width},
        }
        if cfg.compare_expert and cfg.policy != EXPERT:
            ref = self.run_trials(ExpertPredictor(), EXPERT, videos=False)
            out["reference"] = {"policy": EXPERT, **summarise(ref), "per_trial": ref}
        return out

    def run_trials(self, predictor, name: str, videos: bool = True) -> list[dict]:
        needs_images = isinstance(predictor, PolicyPredictor)
        env = self.make_env(render=needs_images or (videos and self.cfg.video_dir is not None))
        try:
            bar = tqdm(self.cfg.seeds, desc=f"eval {name}", disable=not self.progress, leave=False)
            trials = []
            for i, seed in enumerate(bar):
                video = self._video_path(name, seed) if videos and i < self.cfg.video_trials else None
                trials.append(self.run_trial(env, predictor, seed, video))
                wins = sum(t["success"] for t in trials)
                bar.set_postfix(success=f"{wins}/{len(trials)}")
            return trials
        finally:
            env.close()

    def _video_path(self, name: str, seed: int) -> Path | None:
        if self.cfg.video_dir is None:
            return None
        tag = "expert" if name == EXPERT else Path(name).name or "policy"
        return Path(self.cfg.video_dir) / f"{tag}_seed{seed:04d}.mp4"

    def run_trial(self, env, predictor, seed: int, video: Path | None = None) -> dict:
        """One episode with ``seed`` → {seed, success, score, chunks, sim_time_s, wall_s, events, video}."""
        start = time.perf_counter()
        obs, info = env.reset(seed=int(seed))
        predictor.reset(env, seed)
        executor = ChunkExecutor(self.cfg.execute_steps, self.cfg.blend)
        frames = [np.stack([obs[k] for k in ("top", "left_wrist", "right_wrist")])] if video else []
        events: dict[str, int] = {}
        for event in info.get("events", []):
            events[event["type"]] = events.get(event["type"], 0) + 1
        chunks = 0
        while True:
            actions = executor.next(predictor.chunk(obs))
            obs, _, terminated, truncated, info = env.step(actions)
            chunks += 1
            for event in info["events"]:
                events[event["type"]] = events.get(event["type"], 0) + 1
            if video is not None:
                frames.extend(info["frames"])
            if terminated or truncated:
                break
        if video is not None:
            write_video(video, [tile_views(v) for v in frames], fps=env.info_frame_hz)
        return {
            "seed": int(seed), "success": bool(info["success"]), "score": float(info["score"]), "chunks": chunks,
            "sim_time_s": float(env.sim_time), "wall_s": round(time.perf_counter() - start, 2), "events": events,
            "video": os.fspath(video) if video is not None else None,
        }

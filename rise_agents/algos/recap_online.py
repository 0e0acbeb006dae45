"""The RISE self-improving loop (paper Sec. III-C), ``--algo recap-online``.

Every ``steps_per_stage`` optimiser steps a *rollout stage* runs: the EMA policy, prompted with the
top advantage bin, acts in ``ImaginationVectorEnv`` (the frozen compositional world model) from
offline initial states for ``rollout_chunks`` chained chunks; each chunk is stored with the bin of
its imagined advantage. The *training stage* then mixes offline samples (fraction
``offline_ratio``: RECAP-labelled data from ``--data``, or the initial-state bank's recorded demo
chunks when no dataset is given) with online samples and minimises the flow-matching loss
conditioned on each sample's bin (cosine LR, EMA 0.995 — all from ``TrainConfig``).

Ablations (paper Tables II/III): ``offline_ratio``; ``online_action`` off = offline data only;
``online_state`` off = only chunks that start from a real (offline) state. Success in the twin is
measured before and after training (``eval_trials``) and every ``eval_every`` steps.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from rise_agents.algos import checkpoint as ckpt
from rise_agents.algos.online_data import BankDataset, OnlineBuffer, concat_batches
from rise_agents.algos.recap import RECAP
from rise_env.data import LeRobotDatasetReader
from rise_env.utils import atomic_write_text

EVAL_FILE = "twin_eval.json"


def bundled_policy_dir(task: str) -> Path:
    """The bundled warm-up (RECAP) policy of ``task``, manifest-checked."""
    from rise_env.assets import POLICY_DIR
    from rise_env.envs.factory import bundled_asset_dir

    return bundled_asset_dir(task) / POLICY_DIR


def split_counts(batch_size: int, offline_ratio: float, online_available: bool) -> tuple[int, int]:
    """(offline, online) samples of one batch: ``round(ratio · B)`` offline, the rest online (if any)."""
    if not online_available:
        return batch_size, 0
    n_off = int(round(offline_ratio * batch_size))
    return n_off, batch_size - n_off


class RecapOnline(RECAP):
    """RECAP warm-up data + on-policy rollouts in imagination, advantage-conditioned training."""

    name = "recap-online"

    def __init__(self, config, resume: bool = False, progress: bool = True) -> None:
        from rise_env.envs.factory import align_tasks, load_initial_states, load_world_model

        self._wm = load_world_model(config.world_model, task=config.task)
        self._bank = align_tasks(load_initial_states(config.initial_states, task=config.task),
                                 list(self._wm.task_names))
        self.buffer: OnlineBuffer | None = None
        self._env = None
        self.rollout_log: list[dict] = []
        super().__init__(config, resume=resume, progress=progress)
        if self.buffer is None:
            self.buffer = self._new_buffer()

    # ------------------------------------------------------------------ data
    def open_data(self) -> LeRobotDatasetReader | None:
        return LeRobotDatasetReader(self.cfg.data) if self.cfg.data else None

    def init_from(self) -> str | None:
        return self.cfg.init_from or str(bundled_policy_dir(self.cfg.task))

    def build_dataset(self):
        if self.reader is not None:
            return super().build_dataset()
        vla = self.policy.config.vla
        return BankDataset(self._bank, vla.vision.image_size, vla.action_horizon, bin=vla.prompt.num_bins)

    def _new_buffer(self) -> OnlineBuffer:
        vla = self.policy.config.vla
        return OnlineBuffer(self.cfg.online_buffer, vla.camera_names, vla.vision.image_size, vla.action_horizon,
                            vla.env_action_dim, self.policy.config.task)

    def extra_state(self) -> dict[str, torch.Tensor]:
        return self.buffer.state_dict()

    def restore_extra(self, tensors: dict[str, torch.Tensor]) -> None:
        self.buffer = self._new_buffer()
        if tensors:
            self.buffer.load_state_dict(tensors)

    # ------------------------------------------------------------------ rollout stage
    @property
    def chunks_per_episode(self) -> int:
        """Chained chunks per imagined episode: one when chunks from imagined states are switched off."""
        return self.cfg.rollout_chunks if self.cfg.online_state else 1

    def make_env(self):
        """The rollout env (built once; every stage resets all its slots)."""
        if self._env is None:
            from rise_env.envs.vector_env import ImaginationVectorEnv

            self._env = ImaginationVectorEnv(self._wm, self._bank, num_envs=self.cfg.rollout_slots,
                                             max_chunks=self.chunks_per_episode)
        return self._env

    def rollout_stage(self, stage: int) -> dict[str, float]:
        """Imagined episodes with the EMA policy (top bin) → online buffer; returns stage statistics."""
        started = time.perf_counter()
        env = self.make_env()
        top = self.policy.config.vla.prompt.num_bins
        advantages, bins = [], []
        self.policy.eval()
        for r in range(self.cfg.rollouts_per_stage):
            seed = int(np.random.default_rng([self.cfg.seed, stage, r, 11]).integers(2**31 - 1))
            obs, _ = env.reset(seed=seed)
            generator = torch.Generator().manual_seed(seed)
            for c in range(self.chunks_per_episode):
                actions = self.policy.predict_chunk(obs, top, use_ema=self.policy.ema is not None, generator=generator)
                next_obs, reward, _, _, info = env.step(actions)
                self.buffer.add(obs, actions, info["advantage_bin"], chunk_index=c)
                advantages.append(np.asarray(reward, np.float64))
                bins.append(np.asarray(info["advantage_bin"]))
                obs = next_obs
        adv, b = np.concatenate(advantages), np.concatenate(bins)
        stats = {"stage": stage, "online_samples": len(self.buffer), "advantage_mean": float(adv.mean()),
                 "advantage_std": float(adv.std()), "bin_mean": float(b.mean()),
                 "wall_s": round(time.perf_counter() - started, 2)}
        self.rollout_log.append(stats)
        return stats

    # ------------------------------------------------------------------ training stage
    def batch_ids(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(offline ids, online ids) of step ``step``, a function of (seed, step) and the buffer size."""
        online = self.cfg.online_action and len(self.buffer) > 0
        n_off, n_on = split_counts(self.cfg.batch_size, self.cfg.offline_ratio, online)
        rng = np.random.default_rng([self.cfg.seed, step])
        return rng.integers(0, len(self.dataset), n_off), rng.integers(0, max(len(self.buffer), 1), n_on)

    def next_batch(self, step: int) -> dict:
        if self.cfg.online_action and (step - 1) % self.cfg.steps_per_stage == 0:
            stats = self.rollout_stage((step - 1) // self.cfg.steps_per_stage)
            self._log_rollout(step, stats)
        off, on = self.batch_ids(step)
        parts = [self.dataset.batch(off)] if len(off) else []
        if len(on):
            parts.append(self.buffer.batch(on))
        return concat_batches(*parts)

    def _log_rollout(self, step: int, stats: dict) -> None:
        with open(self.run / "rollouts.jsonl", "a") as f:
            f.write(json.dumps({"step": step, **stats}) + "\n")
        if self.progress:
            print(f"\nrollout stage {stats['stage']}: mean advantage {stats['advantage_mean']:+.3f}, "
                  f"mean bin {stats['bin_mean']:.2f}, {stats['online_samples']} online samples", flush=True)

    # ------------------------------------------------------------------ twin evaluation
    def evaluate_twin(self, policy_dir: Path, tag: str) -> dict | None:
        """Success and score of ``policy_dir`` over ``eval_trials`` twin trials (cached in twin_eval.json)."""
        if self.cfg.eval_trials <= 0:
            return None
        results = json.loads((self.run / EVAL_FILE).read_text()) if (self.run / EVAL_FILE).is_file() else {}
        if tag in results:
            return results[tag]
        from rise_agents.evaluation.runner import EvalConfig, Evaluator

        h, w = self._bank.memory.shape[3:5]
        cfg = EvalConfig(policy=str(policy_dir), trials=self.cfg.eval_trials, seed=self.cfg.eval_seed,
                         height=int(h), width=int(w), num_threads=self.cfg.num_threads)
        out = Evaluator(cfg, progress=self.progress).run()
        keep = ("success_rate", "success_ci95", "mean_score", "trials", "seeds")
        results[tag] = {k: out[k] for k in keep if k in out}
        results[tag]["wall_s"] = round(sum(t["wall_s"] for t in out["per_trial"]), 1)
        atomic_write_text(self.run / EVAL_FILE, json.dumps(results, indent=2) + "\n")
        return results[tag]

    def train(self, stop_after: int | None = None) -> Path:
        before = self.evaluate_twin(Path(self.init_from()), "before")
        run = super().train(stop_after=stop_after)
        if stop_after is not None:
            return run
        after = self.evaluate_twin(run / ckpt.POLICY_DIR, "after")
        if before is not None and after is not None:
            print(f"twin, {self.cfg.eval_trials} trials (seeds {self.cfg.eval_seed}+): "
                  f"success {before['success_rate']:.0%} -> {after['success_rate']:.0%}, "
                  f"mean score {before['mean_score']:.2f} -> {after['mean_score']:.2f}", flush=True)
        return run

    def train_step(self, step: int) -> dict[str, float]:
        metrics = super().train_step(step)
        if self.cfg.eval_every and step % self.cfg.eval_every == 0 and step < self.cfg.steps:
            folder = self.run / "eval_policies" / f"step_{step:08d}"
            self.policy.save_pretrained(folder)
            self.evaluate_twin(folder, f"step_{step}")
        return metrics

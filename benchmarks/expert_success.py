"""Success of the scripted brick-sorting expert in the twin: clean demos vs perturbed rollouts.

Runs ``make_expert(env, mode)`` for every mode on the same seeds (seed s: ``env.reset(seed=s)``
and the expert's own seed s) in the default Dynamic Brick Sorting episode (4 bricks, 30 s).
Cameras are not rendered (``render_cameras=False``): the expert reads the simulator state, and
the physics is identical with or without images. Prints a table and writes
``benchmarks/results/expert_brick_sorting_twin.json``.

    MUJOCO_GL=egl python benchmarks/expert_success.py                 # 50 seeds per mode (~4 min)
    MUJOCO_GL=egl python benchmarks/expert_success.py --trials 5 --out /tmp/x.json
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from rise_agents.envs.sim import MODES, BrickSortingSimEnv, PerturbationConfig, make_expert  # noqa: E402
from rise_agents.evaluation.results import wilson_interval  # noqa: E402
from rise_env.utils import write_result_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "expert_brick_sorting_twin.json"


def run_trial(env: BrickSortingSimEnv, mode: str, seed: int, perturbation: PerturbationConfig | None = None) -> dict:
    """One episode of the expert in ``mode`` (``perturbation`` replaces the default of rollout modes)."""
    obs, _ = env.reset(seed=seed)
    expert = make_expert(env, mode=mode, seed=seed, perturbation=perturbation)
    events: dict[str, int] = {}
    intervened = 0
    while True:
        chunk = expert.act(obs)
        obs, _, terminated, truncated, info = env.step(chunk.actions)
        intervened += int(chunk.intervention[: info["n_executed"]].sum())
        for event in info["events"]:
            events[event["type"]] = events.get(event["type"], 0) + 1
        if terminated or truncated:
            break
    return {
        "seed": seed,
        "success": bool(info["success"]),
        "score": float(info["score"]),
        "seconds_simulated": env.sim_time,
        "intervention_steps": intervened,
        "events": events,
    }


def run_trials(env: BrickSortingSimEnv, mode: str, seeds: list[int], perturbation: PerturbationConfig | None = None,
               desc: str | None = None) -> dict:
    """``run_trial`` on every seed, summarised: success rate with its 95% interval, mean score, wall time."""
    start = time.perf_counter()
    trials = [run_trial(env, mode, s, perturbation) for s in tqdm(seeds, desc=desc or mode, leave=False)]
    wins = sum(t["success"] for t in trials)
    return {
        "trials": len(trials),
        "success_rate": wins / len(trials),
        "success_ci95": list(wilson_interval(wins, len(trials))),
        "mean_score": float(np.mean([t["score"] for t in trials])),
        "wall_seconds": time.perf_counter() - start,
        "per_trial": trials,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=50, help="seeds per mode (0 .. trials-1)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    env = BrickSortingSimEnv(height=48, width=64, render_cameras=False)
    seeds = list(range(args.trials))
    modes: dict[str, dict] = {}
    for mode in args.modes:
        modes[mode] = {"seeds": seeds, **run_trials(env, mode, seeds)}
    print(f"{'mode':<12}{'trials':>7}{'success':>9}{'95% CI':>16}{'score':>7}{'wall s':>8}")
    for mode, m in modes.items():
        lo, hi = m["success_ci95"]
        print(
            f"{mode:<12}{m['trials']:>7}{m['success_rate']:>9.2f}{f'[{lo:.2f}, {hi:.2f}]':>16}"
            f"{m['mean_score']:>7.2f}{m['wall_seconds']:>8.1f}"
        )
    figures = {
        "task": "brick_sorting",
        "env": "twin",
        "policy": "scripted_expert",
        "env_kwargs": {
            "num_bricks": env.config.num_bricks,
            "time_limit_s": env.config.time_limit_s,
            "conveyor_speed": env.config.conveyor_speed,
            "chunk_size": env.chunk_size,
        },
        "modes": modes,
    }
    write_result_json(args.out, figures)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

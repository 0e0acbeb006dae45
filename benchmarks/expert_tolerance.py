"""How much action error Dynamic Brick Sorting tolerates: the scripted expert with one error added.

The BC policy's open-loop error (``python -m rise_agents.evaluation.open_loop``) is a mean absolute
joint error. This benchmark gives the other half of the budget: the success of the privileged expert
(which still re-plans after a visible failure) when its joint targets carry smooth noise of a given
std (``action_noise_rad``, AR(1) with coefficient 0.9 per step, i.e. errors that last about a third
of a second, as a policy's chunk-level offsets do), or when every pick has an error of a given std in
gripper yaw (``yaw_offset_rad``), in the brick's arrival time (``timing_offset_s``) or in the
horizontal grasp position (``grasp_offset_m``). Each level runs the same seeds; a Gaussian's mean
absolute value is 0.80 × its std. Cameras are off: the expert reads the simulator state.

    MUJOCO_GL=egl python benchmarks/expert_tolerance.py                    # 50 seeds per level (~7 min)
    MUJOCO_GL=egl python benchmarks/expert_tolerance.py --trials 4 --out /tmp/x.json
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from expert_success import run_trials  # noqa: E402

from rise_agents.envs.sim import BrickSortingSimEnv, PerturbationConfig  # noqa: E402
from rise_env.utils import write_result_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "expert_tolerance_brick_sorting_twin.json"


def sweep_levels(levels: dict[str, list[float]]) -> list[tuple[str, float]]:
    """(perturbation field, value) pairs, with the clean expert first."""
    return [("none", 0.0)] + [(field, v) for field, values in levels.items() for v in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=50, help="seeds per level (0 .. trials-1)")
    parser.add_argument("--noise", type=float, nargs="*", default=[0.01, 0.02, 0.03, 0.045, 0.06],
                        help="action_noise_rad levels (std, rad)")
    parser.add_argument("--yaw", type=float, nargs="*", default=[0.1, 0.3], help="yaw_offset_rad levels")
    parser.add_argument("--timing", type=float, nargs="*", default=[0.05, 0.1, 0.2], help="timing_offset_s levels")
    parser.add_argument("--grasp", type=float, nargs="*", default=[0.004, 0.008, 0.012],
                        help="grasp_offset_m levels")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    env = BrickSortingSimEnv(height=48, width=64, render_cameras=False)
    seeds = list(range(args.trials))
    rows = []
    levels = {"action_noise_rad": args.noise, "yaw_offset_rad": args.yaw, "timing_offset_s": args.timing,
              "grasp_offset_m": args.grasp}
    for field, value in sweep_levels(levels):
        perturbation = PerturbationConfig(**({} if field == "none" else {field: value}))
        mode = "demo" if field == "none" else "rollout"
        summary = run_trials(env, mode, seeds, perturbation, desc=f"{field}={value}")
        trials = summary["per_trial"]
        events = {k: sum(t["events"].get(k, 0) for t in trials) for k in ("spawn", "grasp", "placed", "drop")}
        rows.append({"perturbation": field, "value": value, "mean_abs_error": float(value * np.sqrt(2 / np.pi)),
                     "events": events, **summary})
    print(f"{'perturbation':<18}{'std':>7}{'MAE':>7}{'success':>9}{'95% CI':>16}{'score':>7}{'placed':>8}")
    for r in rows:
        lo, hi = r["success_ci95"]
        print(f"{r['perturbation']:<18}{r['value']:>7.3f}{r['mean_abs_error']:>7.3f}{r['success_rate']:>9.2f}"
              f"{f'[{lo:.2f}, {hi:.2f}]':>16}{r['mean_score']:>7.2f}{r['events']['placed']:>8}")
    figures = {
        "task": "brick_sorting",
        "env": "twin",
        "policy": "scripted_expert",
        "seeds": seeds,
        "env_kwargs": {"num_bricks": env.config.num_bricks, "time_limit_s": env.config.time_limit_s,
                       "chunk_size": env.chunk_size},
        "levels": rows,
    }
    write_result_json(args.out, figures)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

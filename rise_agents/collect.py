"""Collect expert demos, rollouts and corrections in the MuJoCo twin into a LeRobotDataset v3.0.

    python -m rise_agents.collect --task brick_sorting --demos 100 --rollouts 20 --corrections 20 \\
        --out data/brick_sorting --workers 2 --seed 0

Episode i uses seed ``seed + i`` whatever ``--workers``. Interrupt it any way (Ctrl-C, ``kill -9``)
and rerun the same command: finished episodes are kept, unfinished ones are redone, and the
dataset is finalized at the end, and its data fingerprint printed (compare it with the README's).
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from rise_agents.data_collection.runner import TASKS, CollectConfig, collect
from rise_env.data import LeRobotDatasetReader


def parse_args(argv: list[str] | None = None) -> CollectConfig:
    """Flags -> :class:`CollectConfig` (errors name the flag and what was expected)."""
    fields = CollectConfig.model_fields
    ap = argparse.ArgumentParser(prog="python -m rise_agents.collect", description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="brick_sorting", help=f"{fields['task'].description}")
    ap.add_argument("--out", required=True, help=fields["out"].description)
    for name in (
        "demos",
        "rollouts",
        "corrections",
        "workers",
        "seed",
        "height",
        "width",
        "chunk_size",
        "num_bricks",
        "crf",
    ):
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=None, help=fields[name].description)
    ap.add_argument("--time-limit-s", type=float, default=None, help=fields["time_limit_s"].description)
    ap.add_argument("--dart-noise-rad", type=float, default=None, help=fields["dart_noise_rad"].description)
    ap.add_argument("--no-finalize", action="store_true", help="Stage episodes only; finalize on a later run.")
    ap.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")
    args = vars(ap.parse_args(argv))
    values = {k: v for k, v in args.items() if v is not None and k not in ("no_finalize", "no_progress")}
    values["finalize"] = not args["no_finalize"]
    values["progress"] = not args["no_progress"]
    try:
        cfg = CollectConfig(**values)
    except ValidationError as err:
        msgs = [f"--{'.'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in err.errors()]
        ap.error("; ".join(msgs))
    if cfg.total == 0:
        ap.error(
            f"nothing to collect: give --demos, --rollouts and/or --corrections (available tasks: {sorted(TASKS)})"
        )
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    try:
        rep = collect(cfg)
    except ValueError as err:  # e.g. resuming into a directory made with another plan or resolution
        print(f"collect: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: finished episodes are kept in {cfg.out}; rerun the same command to resume", file=sys.stderr
        )
        return 130
    print(f"{cfg.out}: {rep.planned} episodes planned, {rep.resumed} found staged, {rep.recorded_now} recorded now")
    for source, s in rep.by_source.items():
        rate = s["successes"] / max(s["episodes"], 1)
        print(f"  {source:<10} {int(s['episodes']):>5} episodes  {int(s['frames']):>8} frames  success {rate:.0%}")
    if rep.finalize is not None:
        f = rep.finalize
        state = "unchanged" if f.skipped else f"{f.data_files} data file(s), {f.video_files} video file(s)"
        print(f"  dataset: {f.episodes} episodes, {f.frames} frames, {f.tasks} task(s), {state}")
        print(f"  data fingerprint: {LeRobotDatasetReader(cfg.out).fingerprint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

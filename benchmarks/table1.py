"""Table 1 in the twin: BC (π0.5 baseline), RECAP and RISE on Dynamic Brick Sorting, same seeds.

Every policy runs ``--trials`` episodes with seeds ``seed .. seed+trials-1`` (env and policy noise),
prompted with the top advantage bin, chunks of 50 executed 25 at a time with linear blending (the
``rise_agents.evaluate`` defaults). Rows: success rate with its Wilson 95 % interval and the mean
stage-wise score; more rows (PPO, DSRL, DAgger …) are added with more ``--policy NAME=DIR``.
Because every row runs the same seeds, rows are compared trial by trial: ``--compare A-B`` adds the
paired score difference mean(score_A − score_B) with its normal 95 % half-width (default: ``recap-bc``
and ``rise-recap``, the paper's claims, where both rows exist).
Policies are evaluated in parallel processes (one torch thread each). Writes
``benchmarks/results/table1_brick_sorting.json`` and a markdown table next to it.

    MUJOCO_GL=egl python benchmarks/table1.py --policy bc=runs/bc_brick_sorting_twin \\
        --policy recap=runs/recap_brick_sorting --policy rise=runs/rise_brick_sorting --trials 50 --workers 2
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from rise_env.utils import atomic_write_text, write_result_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "table1_brick_sorting.json"
PAPER = {"bc": 0.35, "recap": 0.50, "rise": 0.85}  # paper Table I, brick sorting success
DEFAULT_COMPARE = ("recap-bc", "rise-recap")


def evaluate(name: str, policy: str, trials: int, seed: int, height: int, width: int,
             time_limit_s: float = 30.0) -> tuple[str, dict]:
    """One row: the policy's ``Evaluator`` result (per-trial table included)."""
    from rise_agents.evaluation.runner import EvalConfig, Evaluator

    cfg = EvalConfig(policy=policy, trials=trials, seed=seed, height=height, width=width, num_threads=1,
                     time_limit_s=time_limit_s)
    started = time.perf_counter()
    out = Evaluator(cfg, progress=False).run()
    out["wall_s"] = round(time.perf_counter() - started, 1)
    return name, out


def paired_difference(a: dict, b: dict) -> dict:
    """Trial-by-trial score difference of two rows run on the same seeds: mean and 95 % half-width."""
    sa, sb = ({t["seed"]: t["score"] for t in r["per_trial"]} for r in (a, b))
    if sa.keys() != sb.keys():
        raise ValueError(f"rows ran different seeds: {sorted(sa)} vs {sorted(sb)}")
    d = np.array([sa[k] - sb[k] for k in sorted(sa)], dtype=np.float64)
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return {"mean": float(d.mean()), "ci95_half_width": float(half), "trials": len(d)}


def markdown(rows: dict[str, dict], trials: int, seed: int, differences: dict[str, dict] | None = None) -> str:
    lines = [f"Twin brick sorting, {trials} trials per row (seeds {seed}..{seed + trials - 1}), top-bin prompt.", "",
             "| policy | success | 95% CI | mean score (0-10) | paper success |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        lo, hi = r["success_ci95"]
        paper = f"{PAPER[name]:.0%}" if name in PAPER else "-"
        lines.append(f"| {name} | {r['success_rate']:.0%} | {lo:.0%}-{hi:.0%} | {r['mean_score']:.2f} | {paper} |")
    if differences:
        lines += ["", "| paired score difference | mean | 95% |", "|---|---|---|"]
        lines += [f"| {pair} | {d['mean']:+.2f} | ±{d['ci95_half_width']:.2f} |" for pair, d in differences.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", action="append", required=True, metavar="NAME=DIR",
                        help="a row: name and policy / run folder (repeat; order kept)")
    parser.add_argument("--trials", type=int, default=50, help="trials per policy (same seeds for all)")
    parser.add_argument("--seed", type=int, default=2000, help="first trial seed")
    parser.add_argument("--height", type=int, default=192, help="camera height the policies were trained at")
    parser.add_argument("--width", type=int, default=256, help="camera width")
    parser.add_argument("--workers", type=int, default=2, help="policies evaluated in parallel")
    parser.add_argument("--time-limit-s", type=float, default=30.0, help="episode length (the task's: 30 s)")
    parser.add_argument("--compare", nargs="*", metavar="A-B", default=None,
                        help=f"paired score differences row A - row B (default {' '.join(DEFAULT_COMPARE)} if present)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    entries = []
    for item in args.policy:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            parser.error(f"--policy {item!r}: expected NAME=DIR")
        if not Path(folder).exists():
            parser.error(f"--policy {item!r}: {folder} does not exist")
        entries.append((name, folder))
    names = [n for n, _ in entries]
    pairs = []
    for pair in DEFAULT_COMPARE if args.compare is None else args.compare:
        a, sep, b = pair.partition("-")
        if args.compare is None and not {a, b} <= set(names):
            continue
        if not sep or a not in names or b not in names:
            parser.error(f"--compare {pair!r}: expected A-B with rows A and B among {names}")
        pairs.append((a, b))
    started = time.perf_counter()
    jobs = [(n, f, args.trials, args.seed, args.height, args.width, args.time_limit_s) for n, f in entries]
    if args.workers <= 1:
        done = dict(evaluate(*job) for job in jobs)
    else:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            done = dict(f.result() for f in [pool.submit(evaluate, *job) for job in jobs])
    rows = {name: done[name] for name, _ in entries}
    differences = {f"{a} - {b}": paired_difference(rows[a], rows[b]) for a, b in pairs}
    table = markdown(rows, args.trials, args.seed, differences)
    print(table)
    figures = {
        "trials": args.trials, "time_limit_s": args.time_limit_s, "seeds": [args.seed, args.seed + args.trials - 1],
        "wall_s": round(time.perf_counter() - started, 1), "paper_success": PAPER,
        "paired_score_differences": differences, "rows": rows,
    }
    write_result_json(args.out, figures, None if argv is None else ["python", "benchmarks/table1.py", *argv])
    atomic_write_text(args.out.with_suffix(".md"), table)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Evaluate a policy: ``python -m rise_agents.evaluate --policy RUN --env twin --task brick_sorting --trials 20``.

Runs trials with seeds S..S+N−1 in ``BrickSortingSimEnv``: the policy predicts a chunk, the first
``--execute-steps`` actions run, then it re-plans and the new chunk is blended into the remainder
(linear cross-fade, paper Sec. X-B). Prints a per-trial table and the success rate with its 95%
Wilson interval; ``--out`` writes the result JSON (DESIGN "Result files"). ``--policy expert``
evaluates the scripted expert through the same loop.

Examples::

    python -m rise_agents.evaluate --policy runs/bc_brick_sorting --trials 20 --out benchmarks/results/bc.json
    python -m rise_agents.evaluate --policy expert --trials 20 --video-dir videos/expert
"""

from __future__ import annotations

import argparse
import sys

from rise_agents.algos.cli import add_config_flags, config_overrides
from rise_agents.evaluation import EvalConfig, Evaluator, validate_policy_result
from rise_env.utils import write_result_json


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rise_agents.evaluate", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default=None, help="write the result JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_flags(parser, EvalConfig)
    return parser


def format_table(result: dict) -> str:
    """Per-trial table plus the summary line(s)."""
    lines = [f"{'seed':>6} {'success':>8} {'score':>6} {'chunks':>7}  events"]
    for t in result["per_trial"]:
        ev = ", ".join(f"{k}={v}" for k, v in sorted(t["events"].items()))
        lines.append(f"{t['seed']:>6} {str(t['success']):>8} {t['score']:>6.2f} {t.get('chunks', 0):>7}  {ev}")
    rows = [result] + ([{**result["reference"], "trials": result["trials"]}] if "reference" in result else [])
    for r in rows:
        lo, hi = r["success_ci95"]
        lines.append(f"{r['policy']}: success {r['success_rate']:.0%} (95% CI {lo:.0%}–{hi:.0%}) over "
                     f"{r['trials']} trials, mean score {r['mean_score']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.policy is None:
        print("error: --policy is required (a training run folder, a policy folder, or 'expert')", file=sys.stderr)
        return 2
    cfg = EvalConfig(**config_overrides(args, EvalConfig))
    result = Evaluator(cfg, progress=not args.no_progress).run()
    print(format_table(result))
    if args.out:
        command = ["python", "-m", "rise_agents.evaluate", *(sys.argv[1:] if argv is None else argv)]
        payload = write_result_json(args.out, result, argv=command)
        validate_policy_result(payload)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

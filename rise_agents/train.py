"""Train a policy: ``python -m rise_agents.train --algo bc --task brick_sorting --data DIR [--preset cpu]``.

Thin CLI over the named presets of ``rise_agents.algos.config``: every ``TrainConfig`` field is a
flag (``--steps``, ``--batch-size``, ``--lr``, ``--include-corrections`` …) that overrides the
preset. ``--resume`` continues the run in ``--out`` from its latest checkpoint (same config).

Examples::

    python -m rise_agents.train --algo bc --task brick_sorting --data data/brick_sorting_twin --out runs/bc
    python -m rise_agents.train --algo bc --data data/brick_sorting_twin --out runs/bc --resume
    python -m rise_agents.train --algo bc --preset tiny --data /tmp/ds --steps 20 --out /tmp/run
"""

from __future__ import annotations

import argparse
import sys

from rise_agents.algos import get_algorithm_class
from rise_agents.algos.cli import add_config_flags, config_overrides
from rise_agents.algos.config import TrainConfig, get_train_config
from rise_env.models.vla.config import UnknownPresetError

_SKIP = ("algo", "preset")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rise_agents.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algo", default="bc", help="algorithm: bc (recap, recap-online, ppo, dsrl, dagger planned)")
    parser.add_argument("--preset", default="cpu", help="named preset of the algorithm (bc: tiny, cpu, pi05)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_flags(parser, TrainConfig, skip=_SKIP)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = get_train_config(args.algo, args.preset, **config_overrides(args, TrainConfig, skip=_SKIP))
    except (UnknownPresetError, NotImplementedError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    algo = get_algorithm_class(cfg.algo)(cfg, resume=args.resume, progress=not args.no_progress)
    print(f"{cfg.algo}/{cfg.preset}: {len(algo.dataset)} samples from {len(algo.dataset.episodes)} episodes; "
          f"run dir {algo.run}; starting at step {algo.start_step}/{cfg.steps}", flush=True)
    run = algo.train()
    print(f"done: policy in {run / 'policy'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

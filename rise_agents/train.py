"""Train a policy: ``python -m rise_agents.train --algo {bc,recap,recap-online} [--preset cpu] [--data DIR]``.

The main job, ``python -m rise_agents.train --algo recap-online`` with no other argument, runs the RISE
self-improving loop on the bundled default (warm-up policy, world model, initial states) and prints
the twin's success and score before and after.

Thin CLI over the named presets of ``rise_agents.algos.config``: every ``TrainConfig`` field is a
flag (``--steps``, ``--batch-size``, ``--lr``, ``--include-corrections`` …) that overrides the
preset. ``--resume`` continues the run in ``--out`` from its latest checkpoint (same config).

Examples::

    python -m rise_agents.train --algo recap-online
    python -m rise_agents.train --algo bc --task brick_sorting --data data/brick_sorting_twin --out runs/bc
    python -m rise_agents.train --algo recap --data data/brick_sorting_twin --init-from runs/bc/policy \
        --value-model runs/value/model --out runs/recap
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
    parser.add_argument("--algo", default="bc", help="algorithm: bc, recap, recap-online (ppo, dsrl, dagger planned)")
    parser.add_argument(
        "--preset", default="cpu", help="named preset (bc/recap: tiny, cpu, pi05; recap-online: tiny, cpu, paper)"
    )
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
    try:
        algo = get_algorithm_class(cfg.algo)(cfg, resume=args.resume, progress=not args.no_progress)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{cfg.algo}/{cfg.preset}: {len(algo.dataset)} samples from {len(algo.dataset.episodes)} episodes; "
          f"run dir {algo.run}; starting at step {algo.start_step}/{cfg.steps}", flush=True)
    run = algo.train()
    print(f"done: policy in {run / 'policy'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

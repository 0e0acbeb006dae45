"""Evaluation entry point for the world-model components: ``python -m rise_env.evaluate <model> ...``.

Each model contributes a subcommand through an ``add_evaluate_parser(subparsers)`` function that sets
``func`` (returning an exit code). Register a new one in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import sys

from rise_env.utils.subcommands import build_dispatcher, run_dispatcher

# subcommand module -> it provides add_evaluate_parser(subparsers)
SUBCOMMANDS: tuple[str, ...] = ("rise_env.models.value.cli", "rise_env.models.dynamics.cli")


def main(argv: list[str] | None = None) -> int:
    parser = build_dispatcher(
        "python -m rise_env.evaluate", __doc__.splitlines()[0], SUBCOMMANDS, "add_evaluate_parser"
    )
    return run_dispatcher(parser, argv)


if __name__ == "__main__":
    sys.exit(main())

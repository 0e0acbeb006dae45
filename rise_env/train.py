"""Training entry point for the world-model components: ``python -m rise_env.train <model> ...``.

Each model contributes a subcommand through an ``add_train_parser(subparsers)`` function that sets
``func`` (returning an exit code). Register a new one in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand module -> it provides add_train_parser(subparsers)
SUBCOMMANDS: tuple[str, ...] = ("rise_env.models.value.cli", "rise_env.models.dynamics.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rise_env.train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(_names()) + "}")
    for module in SUBCOMMANDS:
        importlib.import_module(module).add_train_parser(sub)
    return parser


def _names() -> list[str]:
    return [m.split(".")[-2] for m in SUBCOMMANDS]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

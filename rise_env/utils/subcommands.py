"""Entry points built from subcommand modules (``python -m rise_env.train value ...``)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence


def build_dispatcher(prog: str, description: str, modules: Sequence[str], hook: str) -> argparse.ArgumentParser:
    """A parser whose subcommands come from ``module.<hook>(subparsers)``; each sets ``func``.

    The subcommand name shown in the usage line is the module's package name
    (``rise_env.models.value.cli`` → ``value``).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    names = [m.split(".")[-2] for m in modules]
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(names) + "}")
    for module in modules:
        getattr(importlib.import_module(module), hook)(sub)
    return parser


def run_dispatcher(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns its exit code."""
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)

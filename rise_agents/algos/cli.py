"""argparse flags generated from a pydantic config: ``--batch-size 8`` overrides field ``batch_size``.

Every field gets a flag named after it (underscores → dashes) whose help is the field's
description; flags left out stay None and the preset's value is kept.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable

from pydantic import BaseModel


def _base_type(annotation: object) -> tuple[object, bool]:
    """(annotation without Optional, optional?)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return annotation, False


def add_config_flags(parser: argparse.ArgumentParser, model: type[BaseModel], skip: Iterable[str] = ()) -> None:
    """Add one flag per field of ``model`` (except ``skip``); defaults are None (= keep the preset)."""
    skip = set(skip)
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        flag = "--" + name.replace("_", "-")
        kind, _ = _base_type(field.annotation)
        help_text = f"{field.description} (default: preset / {field.default!r})"
        origin = typing.get_origin(kind)
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif origin is tuple:
            inner = typing.get_args(kind)[0]
            parser.add_argument(flag, type=inner, nargs="+", default=None, help=help_text)
        elif origin is typing.Literal:
            parser.add_argument(flag, choices=typing.get_args(kind), default=None, help=help_text)
        elif kind in (int, float, str):
            parser.add_argument(flag, type=kind, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=str, default=None, help=help_text)


def config_overrides(args: argparse.Namespace, model: type[BaseModel], skip: Iterable[str] = ()) -> dict:
    """The fields set on the command line (non-None flags)."""
    skip = set(skip)
    return {k: getattr(args, k) for k in model.model_fields if k not in skip and getattr(args, k, None) is not None}

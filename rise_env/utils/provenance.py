"""Provenance recorded with every result file: the command, the commit, the date and the machine."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from rise_env.utils.atomic import atomic_write_text


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def cpuinfo_field(name: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The first CPU's ``name`` line of Linux's ``cpuinfo`` (``"model name"``, ``"flags"``); None where absent."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == name:
            return value.strip()
    return None


def _cpu_model() -> str:
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def machine_description() -> dict[str, Any]:
    """CPU model and core count, plus the GPU name when torch sees one."""
    info: dict[str, Any] = {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()}
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def run_metadata(argv: list[str] | None = None) -> dict[str, Any]:
    """Common keys of every result JSON: ``command``, ``git_commit``, ``date``, ``machine``."""
    if argv is None:
        argv = list(sys.argv)
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is not None and spec.name and argv:  # started as ``python -m package.module``
            argv = ["python", "-m", spec.name.removesuffix(".__main__")] + argv[1:]
    if argv and argv[0].endswith(".py"):
        argv = ["python", os.path.relpath(argv[0])] + list(argv[1:])
    return {
        "command": shlex.join(argv),
        "git_commit": _git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_description(),
    }


def write_result_json(path: str | os.PathLike, figures: dict[str, Any], argv: list[str] | None = None) -> dict:
    """Write ``run_metadata() | figures`` to ``path`` atomically and return it."""
    payload = {**run_metadata(argv), **figures}
    atomic_write_text(path, json.dumps(payload, indent=2, default=_jsonable) + "\n")
    return payload


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")

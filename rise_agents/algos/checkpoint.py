"""Training checkpoints: complete or absent, never pickled.

``RUN/checkpoints/step_000500/`` holds ``policy/`` (``save_pretrained``: config, weights, EMA,
norm stats), ``optimizer.safetensors`` (AdamW moments, one tensor per parameter and slot) and
``trainer_state.json`` (step, optimiser param groups, EMA update count, elapsed time). The step
folder is built in a temp sibling and renamed into place; ``RUN/checkpoints/latest.json`` is
rewritten atomically afterwards, so a crash leaves the previous checkpoint as the latest.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rise_env.utils import atomic_directory, atomic_write_text

POLICY_DIR, OPTIMIZER_FILE, EXTRA_FILE = "policy", "optimizer.safetensors", "extra.safetensors"
STATE_FILE, LATEST_FILE = "trainer_state.json", "latest.json"
_STEP_DIR = re.compile(r"^step_(\d{8})$")


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """AdamW state → (flat tensors ``state.<param>.<slot>``, JSON-able param groups)."""
    sd = optimizer.state_dict()
    tensors = {}
    for pid, slots in sd["state"].items():
        for slot, value in slots.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"state.{pid}.{slot}"] = t.detach().cpu().contiguous()
    return tensors, sd["param_groups"]


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict]) -> None:
    """Inverse of ``optimizer_tensors`` (parameter ids and group layout must match)."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        _, pid, slot = key.split(".", 2)
        state.setdefault(int(pid), {})[slot] = value
    groups = [{k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()} for g in groups]
    current = optimizer.state_dict()["param_groups"]
    if [g["params"] for g in current] != [g["params"] for g in groups]:
        raise ValueError("checkpoint optimiser groups do not match this model's parameters (different preset?)")
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def step_dir(root: Path, step: int) -> Path:
    return root / f"step_{step:08d}"


def save_checkpoint(
    root: Path, step: int, policy, optimizer: torch.optim.Optimizer, state: dict, keep: int,
    extra: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically, point latest.json at it, prune old ones.

    ``extra``: algorithm tensors (e.g. the online sample buffer) stored as ``extra.safetensors``.
    """
    tensors, groups = optimizer_tensors(optimizer)
    target = step_dir(root, step)
    with atomic_directory(target, overwrite=True) as tmp:
        policy.save_pretrained(tmp / POLICY_DIR)
        save_file(tensors, str(tmp / OPTIMIZER_FILE))
        if extra:
            save_file({k: v.detach().cpu().contiguous() for k, v in extra.items()}, str(tmp / EXTRA_FILE))
        (tmp / STATE_FILE).write_text(json.dumps({**state, "step": step, "param_groups": groups}, indent=1))
    atomic_write_text(root / LATEST_FILE, json.dumps({"step": step, "path": target.name}) + "\n")
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(step_dir(root, old), ignore_errors=True)
    return target


def list_checkpoints(root: Path) -> list[int]:
    """Steps of the complete checkpoints under ``root``, ascending (temp folders are ignored)."""
    if not root.is_dir():
        return []
    steps = []
    for p in root.iterdir():
        m = _STEP_DIR.match(p.name)
        if m and (p / STATE_FILE).is_file() and (p / OPTIMIZER_FILE).is_file() and (p / POLICY_DIR).is_dir():
            steps.append(int(m.group(1)))
    return sorted(steps)


def latest_checkpoint(root: Path) -> Path | None:
    """The checkpoint named by latest.json, else the newest complete one, else None."""
    latest = root / LATEST_FILE
    if latest.is_file():
        path = root / json.loads(latest.read_text())["path"]
        if (path / STATE_FILE).is_file():
            return path
    steps = list_checkpoints(root)
    return step_dir(root, steps[-1]) if steps else None


def read_checkpoint(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(trainer state, optimiser tensors) of a checkpoint folder."""
    return json.loads((path / STATE_FILE).read_text()), load_file(str(path / OPTIMIZER_FILE))


def read_extra(path: Path) -> dict[str, torch.Tensor]:
    """The algorithm tensors of a checkpoint folder ({} when it stored none)."""
    return load_file(str(path / EXTRA_FILE)) if (path / EXTRA_FILE).is_file() else {}

"""Pickle-free resumable training checkpoints: tensors in safetensors, everything else in JSON.

A checkpoint directory holds whatever the model writer puts there (e.g. ``model/`` with
``config.json`` + ``model.safetensors``), ``optimizer.safetensors`` (optimizer moment tensors keyed
``state.<param>.<name>``) and ``trainer_state.json`` (step, optimizer param groups and scalar state,
the torch CPU RNG state as a list of bytes, plus any JSON the caller adds, e.g. generator states).
The directory is built aside and renamed into place, so it is complete or absent. Restoring it
reproduces the following steps bit-exactly on CPU.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rise_env.utils.atomic import atomic_directory

STATE_NAME = "trainer_state.json"
OPTIM_NAME = "optimizer.safetensors"


def optimizer_to_safe(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state → (tensors for safetensors, JSON-able rest)."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{name}"] = value.detach().cpu().clone().contiguous()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_safe(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Inverse of ``optimizer_to_safe`` (tensors are moved to the parameters' device by torch)."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    for pid, st in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def generator_state(gen: torch.Generator) -> list[int]:
    """A ``torch.Generator``'s state as a JSON-able list of bytes."""
    return gen.get_state().tolist()


def set_generator_state(gen: torch.Generator, state: list[int]) -> None:
    """Inverse of :func:`generator_state`."""
    gen.set_state(torch.tensor(state, dtype=torch.uint8))


def save_training_checkpoint(
    directory: str | Path,
    write_model: Callable[[Path], None],
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
) -> Path:
    """Write ``write_model(tmp)``, the optimizer and ``state`` (+ torch CPU RNG) atomically to ``directory``.

    ``state`` must be JSON-able; ``step`` is expected among its keys. An existing directory is replaced.
    """
    tensors, meta = optimizer_to_safe(optimizer)
    full = {**state, "optimizer": meta, "torch_rng": torch.get_rng_state().tolist()}
    text = json.dumps(full, allow_nan=False) + "\n"
    with atomic_directory(directory, overwrite=True) as tmp:
        write_model(tmp)
        save_file(tensors, str(tmp / OPTIM_NAME), metadata={"format": "pt"})
        (tmp / STATE_NAME).write_text(text)
    return Path(directory)


def load_training_checkpoint(directory: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore ``optimizer`` and the torch CPU RNG from ``save_training_checkpoint``'s directory.

    Returns the saved state dict (the model is the caller's to load from the directory).
    """
    directory = Path(directory)
    if not (directory / STATE_NAME).is_file():
        raise FileNotFoundError(f"{directory / STATE_NAME} not found (expected a resumable training checkpoint)")
    state = json.loads((directory / STATE_NAME).read_text())
    optimizer_from_safe(optimizer, load_file(str(directory / OPTIM_NAME)), state["optimizer"])
    torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
    return state


def checkpoint_dirs(run: str | Path, prefix: str = "step_") -> list[Path]:
    """Complete checkpoints of a run (``RUN/checkpoints/<prefix>XXXXXXXX``), oldest first."""
    root = Path(run) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob(f"{prefix}*") if p.is_dir() and (p / STATE_NAME).is_file())


def checkpoint_path(run: str | Path, step: int, prefix: str = "step_") -> Path:
    """``RUN/checkpoints/<prefix>XXXXXXXX`` for ``step`` (zero-padded so names sort by step)."""
    return Path(run) / "checkpoints" / f"{prefix}{step:08d}"


def prune_checkpoints(run: str | Path, keep: int, prefix: str = "step_") -> None:
    """Delete all but the newest ``keep`` (>= 1) checkpoints of a run."""
    for old in checkpoint_dirs(run, prefix)[: -max(keep, 1)]:
        shutil.rmtree(old, ignore_errors=True)

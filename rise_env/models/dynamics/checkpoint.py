"""Safetensors checkpoints: atomic writes, shape-checked loads, diffusers LTX transformer import."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from rise_env.utils.atomic import atomic_write, atomic_write_json
from rise_env.utils.safetensors_header import save_sorted

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"


@dataclass
class LoadReport:
    """Keys the model expected but the file lacked, and keys the file had but the model did not."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"missing {len(self.missing)} key(s) {self.missing[:8]}, "
            f"unexpected {len(self.unexpected)} {self.unexpected[:8]}"
        )


def write_json(path: str | Path, obj: object) -> None:
    """Write ``obj`` as indented JSON through a temp file + rename."""
    atomic_write_json(path, obj, indent=2, sort_keys=True)


def write_safetensors(path: str | Path, state: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Save a state dict (contiguous CPU copies) through a temp file + rename."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    atomic_write(path, lambda tmp: save_sorted(tensors, tmp, metadata=metadata))  # same model, same bytes


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file, a diffusers folder, or a sharded folder (``*.index.json``)."""
    path = Path(path)
    if path.is_dir():
        for name in (DIFFUSERS_WEIGHTS, WEIGHTS_NAME):
            if (path / name).exists():
                return load_file(str(path / name))
        index = next(iter(sorted(path.glob("*.safetensors.index.json"))), None)
        if index is None:
            raise FileNotFoundError(f"no {DIFFUSERS_WEIGHTS}, {WEIGHTS_NAME} or *.safetensors.index.json in {path}")
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_file(str(path / shard)))
        return state
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return load_file(str(path))


def load_checked(module: nn.Module, state: dict[str, torch.Tensor], strict: bool = True) -> LoadReport:
    """Load ``state`` into ``module`` after checking every shape; report missing/unexpected keys.

    Raises:
        ValueError: a tensor's shape differs (names the key and both shapes), or ``strict`` and
            keys are missing or unexpected.
    """
    own = module.state_dict()
    bad = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]
    if bad:
        raise ValueError(f"{len(bad)} tensor shape mismatch(es): " + "; ".join(bad[:8]))
    report = LoadReport(missing=sorted(set(own) - set(state)), unexpected=sorted(set(state) - set(own)))
    if strict and (report.missing or report.unexpected):
        raise ValueError(f"checkpoint does not match the model: {report}")
    module.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return report

"""Saving and loading: ``config.json`` + ``model.safetensors``, written atomically (never pickle)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from rise_env.models.vla.config import VLAConfig
from rise_env.models.vla.convert import load_pi05_weights
from rise_env.models.vla.pipeline import AdvantageVLA
from rise_env.utils.atomic import atomic_directory

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def atomic_write_dir(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Fill a temporary sibling with ``write(tmp)`` and rename it onto ``target`` (replacing it).

    On error nothing changes on disk (``rise_env.utils.atomic.atomic_directory``).
    """
    with atomic_directory(target, overwrite=True) as tmp:
        write(tmp)
    return Path(target)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_weights(module: nn.Module, path: Path) -> None:
    """State dict → safetensors (contiguous CPU copies)."""
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path), metadata={"format": "pt"})


def copy_tokenizer(spec: str, directory: Path) -> str:
    """Copy a file-based tokenizer next to the weights; returns the spec to store in the config."""
    if spec == "byte":
        return spec
    src = Path(spec)
    dst = directory / ("tokenizer.json" if src.suffix == ".json" else "tokenizer.model")
    shutil.copyfile(src, dst)
    return dst.name


def resolve_tokenizer(spec: str, directory: Path) -> str:
    """A tokenizer spec stored relative to a saved directory → usable spec."""
    return spec if spec == "byte" or Path(spec).is_absolute() else str(directory / spec)


def save_vla(vla: AdvantageVLA, directory: str | Path) -> Path:
    """Write ``config.json`` ({"vla": ...}) and ``model.safetensors`` (openpi key names)."""

    def write(tmp: Path) -> None:
        cfg = vla.cfg.model_copy(update={"tokenizer": copy_tokenizer(vla.cfg.tokenizer, tmp)})
        write_json(tmp / CONFIG_NAME, {"vla": cfg.model_dump(mode="json")})
        save_weights(vla.model, tmp / WEIGHTS_NAME)

    return atomic_write_dir(directory, write)


def load_vla(directory: str | Path) -> AdvantageVLA:
    """Inverse of ``save_vla`` (strict: every key present with the right shape)."""
    directory = Path(directory)
    cfg_file = directory / CONFIG_NAME
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file} not found (expected a directory written by save_pretrained)")
    raw = json.loads(cfg_file.read_text())
    cfg = VLAConfig.model_validate(raw["vla"] if "vla" in raw else raw)
    cfg = cfg.model_copy(update={"tokenizer": resolve_tokenizer(cfg.tokenizer, directory)})
    vla = AdvantageVLA(cfg)
    load_pi05_weights(vla.model, load_file(str(directory / WEIGHTS_NAME)), strict=True)
    return vla

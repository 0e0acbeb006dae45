"""Value-model checkpoints: ``config.json`` ({"value": ValueConfig}) + ``model.safetensors``, atomic, no pickle."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from rise_env.models.value.config import ValueConfig
from rise_env.models.value.model import ValueModel
from rise_env.models.vla.convert import CheckpointKeyError, CheckpointShapeError
from rise_env.models.vla.io import atomic_write_dir, copy_tokenizer, resolve_tokenizer, save_weights, write_json

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def save_value_model(model: ValueModel, directory: str | Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory`` (replaced atomically)."""

    def write(tmp: Path) -> None:
        bb = model.cfg.backbone
        bb = bb.model_copy(update={"tokenizer": copy_tokenizer(bb.tokenizer, tmp)})
        cfg = model.cfg.model_copy(update={"backbone": bb})
        write_json(tmp / CONFIG_NAME, {"value": cfg.model_dump(mode="json")})
        save_weights(model, tmp / WEIGHTS_NAME)

    return atomic_write_dir(directory, write)


def read_value_config(directory: str | Path) -> ValueConfig:
    """The ``ValueConfig`` of a saved value model (tokenizer path resolved against ``directory``)."""
    directory = Path(directory)
    cfg_file = directory / CONFIG_NAME
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file} not found (expected a directory written by ValueModel.save_pretrained)")
    raw = json.loads(cfg_file.read_text())
    if "value" not in raw:
        hint = " (a policy checkpoint: use ValueModel.from_policy_checkpoint)" if "policy" in raw else ""
        raise ValueError(f"{cfg_file} has no 'value' entry; is this a value-model checkpoint?{hint}")
    cfg = ValueConfig.model_validate(raw["value"])
    bb = cfg.backbone.model_copy(update={"tokenizer": resolve_tokenizer(cfg.backbone.tokenizer, directory)})
    return cfg.model_copy(update={"backbone": bb})


def load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy ``state`` into ``model``; every key must exist on both sides with the same shape."""
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointKeyError(
            f"value checkpoint does not match the model: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]} ({len(missing)} / {len(unexpected)} in all)"
        )
    bad = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items() if state[k].shape != v.shape]
    if bad:
        raise CheckpointShapeError("wrong shapes: " + "; ".join(f"{k}: file {a} vs model {b}" for k, a, b in bad[:5]))
    with torch.no_grad():
        for k, v in own.items():
            v.copy_(state[k].to(v.dtype))


def load_value_model(directory: str | Path, map_location: str | torch.device = "cpu") -> ValueModel:
    """Inverse of ``save_value_model``."""
    directory = Path(directory)
    model = ValueModel(read_value_config(directory))
    load_state_strict(model, load_file(str(directory / WEIGHTS_NAME)))
    return model.to(map_location)

"""Load openpi-PyTorch and LeRobot π0.5 checkpoints into ``Pi05VLA`` (safetensors only, offline).

Both publish the same key names (verified against LeRobot ``modeling_pi05.py`` /
``pi_gemma.py`` and openpi ``gemma_pytorch.py`` / ``pi0_pytorch.py``, and the 812-tensor key list
of ``lerobot/pi05_base``); LeRobot's ``save_pretrained`` prefixes every key with ``model.``.
Fix-ups, as LeRobot's ``_fix_pytorch_state_dict_keys`` does:

- ``model.`` prefix stripped;
- ``paligemma.lm_head.weight`` is tied to ``language_model.embed_tokens.weight``: it fills the
  embedding when the latter is absent (``lerobot/pi05_base`` stores only the head);
- ``gemma_expert.lm_head.weight`` (257152 × 1024, never used by flow matching) is ignored;
- ``action_time_mlp_{in,out}`` → ``time_mlp_{in,out}``; π0's ``state_proj`` and non-adaptive
  expert norm weights are ignored (they do not exist in π0.5).

A shape mismatch always fails with the key and both shapes; missing / unexpected keys fail when
``strict`` (the default) and are listed in the ``ConversionReport`` otherwise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import Tensor

from rise_env.models.vla.config import GEMMA_VARIANTS, VLAConfig, get_vla_config, resolve_preset
from rise_env.models.vla.model import Pi05VLA

EMBED_KEY = "paligemma_with_expert.paligemma.model.language_model.embed_tokens.weight"
VLM_HEAD_KEY = "paligemma_with_expert.paligemma.lm_head.weight"
EXPERT_HEAD_KEY = "paligemma_with_expert.gemma_expert.lm_head.weight"
_EXPERT_PLAIN_NORM = re.compile(
    r"paligemma_with_expert\.gemma_expert\.model\.(layers\.\d+\.(input_layernorm|post_attention_layernorm)|norm)\.weight$"
)
_RENAMES = {"action_time_mlp_in.": "time_mlp_in.", "action_time_mlp_out.": "time_mlp_out."}


class CheckpointShapeError(ValueError):
    """A checkpoint tensor does not have the shape the model expects."""


class CheckpointKeyError(KeyError):
    """Strict loading found missing or unexpected keys."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class ConversionReport:
    """What happened to every key of a checkpoint."""

    layout: str = "openpi"
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    loaded: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        lines = [
            f"layout={self.layout} loaded={self.loaded} missing={len(self.missing)} "
            f"unexpected={len(self.unexpected)} mismatched={len(self.mismatched)} ignored={len(self.ignored)}"
        ]
        lines += [f"  missing: {k}" for k in self.missing[:20]]
        lines += [f"  unexpected: {k}" for k in self.unexpected[:20]]
        lines += [f"  shape mismatch: {k}: checkpoint {c} vs model {m}" for k, c, m in self.mismatched]
        lines += [f"  ignored: {k} ({why})" for k, why in list(self.ignored.items())[:20]]
        return "\n".join(lines)


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """A ``model.safetensors`` file, or a directory containing one."""
    path = Path(path)
    file = path / "model.safetensors" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no safetensors checkpoint at {file}")
    return load_file(str(file))


def remap_state_dict(
    state: dict[str, Tensor], keep_state_proj: bool = False
) -> tuple[dict[str, Tensor], ConversionReport]:
    """Apply the LeRobot/openpi fix-ups; returns our-named tensors and a partial report.

    π0's ``state_proj`` is dropped unless ``keep_state_proj`` (a model with continuous_state_input).
    """
    prefixed = sum(k.startswith("model.") for k in state)
    report = ConversionReport(layout="lerobot" if state and prefixed == len(state) else "openpi")
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        new = key[len("model.") :] if report.layout == "lerobot" else key
        for old, repl in _RENAMES.items():
            if new.startswith(old):
                new = repl + new[len(old) :]
        if new == EXPERT_HEAD_KEY:
            report.ignored[key] = "action-expert lm_head is unused by flow matching"
        elif new.startswith("state_proj.") and not keep_state_proj:
            report.ignored[key] = "pi0 state projection (pi0.5 tokenises the state)"
        elif _EXPERT_PLAIN_NORM.match(new):
            report.ignored[key] = "non-adaptive expert norm (pi0.5 uses adaRMS dense layers)"
        elif new == VLM_HEAD_KEY:
            report.ignored[key] = "tied to embed_tokens"
        else:
            out[new] = value
            if new != key:
                report.renamed[key] = new
    head = next((v for k, v in state.items() if k.endswith(VLM_HEAD_KEY)), None)
    if head is not None and EMBED_KEY not in out:
        out[EMBED_KEY] = head
        report.ignored[next(k for k in state if k.endswith(VLM_HEAD_KEY))] = "tied: copied into embed_tokens"
    return out, report


def load_pi05_weights(model: Pi05VLA, source: str | Path | dict[str, Tensor], strict: bool = True) -> ConversionReport:
    """Load an openpi / LeRobot / own π0.5 state dict into ``model``; returns the report.

    Raises ``CheckpointShapeError`` on any shape mismatch, and ``CheckpointKeyError`` if
    ``strict`` and keys are missing or unexpected.
    """
    state = dict(source) if isinstance(source, dict) else read_state_dict(source)
    own = model.state_dict()
    mapped, report = remap_state_dict(state, keep_state_proj=model.cfg.continuous_state_input)
    report.missing = sorted(set(own) - set(mapped))
    report.unexpected = sorted(set(mapped) - set(own))
    for key in sorted(set(own) & set(mapped)):
        if tuple(mapped[key].shape) != tuple(own[key].shape):
            report.mismatched.append((key, tuple(mapped[key].shape), tuple(own[key].shape)))
    if report.mismatched:
        detail = "; ".join(f"{k}: checkpoint {c} vs model {m}" for k, c, m in report.mismatched[:10])
        raise CheckpointShapeError(
            f"{len(report.mismatched)} tensor(s) have the wrong shape for config {model.cfg.name!r}: {detail}"
        )
    if strict and (report.missing or report.unexpected):
        raise CheckpointKeyError(f"checkpoint does not match the model:\n{report}")
    with torch.no_grad():
        for key in set(own) & set(mapped):
            own[key].copy_(mapped[key].to(own[key].dtype))
    report.loaded = len(set(own) & set(mapped))
    return report


def export_state_dict(model: Pi05VLA, layout: str = "openpi") -> dict[str, Tensor]:
    """Our weights under openpi names (``layout="lerobot"`` adds ``model.``), with the tied
    ``paligemma.lm_head.weight`` written as openpi / LeRobot checkpoints carry it."""
    if layout not in ("openpi", "lerobot"):
        raise ValueError(f"layout must be 'openpi' or 'lerobot', got {layout!r}")
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state[VLM_HEAD_KEY] = state[EMBED_KEY].clone()
    return {("model." + k if layout == "lerobot" else k): v for k, v in state.items()}


def config_from_checkpoint(path: str | Path, base: str = "pi05") -> VLAConfig:
    """Our config from an openpi (``action_dim``, ``action_horizon``, ``paligemma_variant``,
    ``action_expert_variant``) or LeRobot (``type: pi05``, ``chunk_size``, ``max_action_dim``,
    ``tokenizer_max_length``) ``config.json``."""
    file = Path(path) / "config.json" if Path(path).is_dir() else Path(path)
    raw = json.loads(file.read_text())
    if raw.get("type") not in (None, "pi05"):
        raise ValueError(f"{file}: policy type {raw.get('type')!r} is not 'pi05'")
    overrides: dict[str, object] = {}
    for ours, keys in {
        "action_dim": ("action_dim", "max_action_dim"),
        "action_horizon": ("action_horizon", "chunk_size"),
        "max_token_len": ("max_token_len", "tokenizer_max_length"),
    }.items():
        for k in keys:
            if k in raw:
                overrides[ours] = int(raw[k])
    for ours, k in (("vlm", "paligemma_variant"), ("expert", "action_expert_variant")):
        if k in raw:
            overrides[ours] = GEMMA_VARIANTS[resolve_preset(raw[k], tuple(GEMMA_VARIANTS), "gemma variant")]
    cfg = get_vla_config(base)
    return VLAConfig.model_validate({**cfg.model_dump(), **overrides})


# ---------------------------------------------------------------------- normalisation stats
_STATE_NAMES = ("state", "observation.state")
_ACTION_NAMES = ("actions", "action")


def _canonical(stats: dict) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for ours, names in (("state", _STATE_NAMES), ("actions", _ACTION_NAMES)):
        for name in names:
            if name in stats and isinstance(stats[name], dict):
                out[ours] = {k: np.asarray(v, dtype=np.float64) for k, v in stats[name].items() if k != "count"}
                break
    if not out:
        raise KeyError(f"no state/action statistics found; top-level keys: {sorted(stats)[:10]}")
    return out


def load_norm_stats(path: str | Path, asset_id: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Normalisation statistics as ``{"state"|"actions": {"q01": ..., "q99": ..., ...}}``.

    Accepts openpi ``norm_stats.json`` (``{"norm_stats": {...}}``) or a checkpoint directory with
    ``assets/<asset_id>/norm_stats.json``; a LeRobot dataset ``meta/stats.json`` (or its root);
    a LeRobot ``policy_preprocessor_step_*_normalizer_processor.safetensors`` (or its directory).
    """
    path = Path(path)
    if path.is_dir():
        candidates = sorted(path.glob("assets/*/norm_stats.json"))
        if asset_id is not None:
            candidates = [c for c in candidates if c.parent.name == asset_id]
        candidates += sorted(path.glob("policy_preprocessor_step_*_normalizer_processor.safetensors"))
        candidates += [p for p in (path / "norm_stats.json", path / "meta" / "stats.json") if p.is_file()]
        if not candidates:
            raise FileNotFoundError(f"no normalisation statistics under {path}")
        if len({c.parent for c in candidates if c.name == "norm_stats.json" and "assets" in c.parts}) > 1:
            raise ValueError(f"several assets/*/norm_stats.json under {path}; pass asset_id")
        path = candidates[0]
    if path.suffix == ".safetensors":
        nested: dict[str, dict[str, np.ndarray]] = {}
        for key, value in load_file(str(path)).items():
            feature, stat = key.rsplit(".", 1)
            nested.setdefault(feature, {})[stat] = value.double().numpy()
        return _canonical(nested)
    raw = json.loads(path.read_text())
    return _canonical(raw.get("norm_stats", raw))

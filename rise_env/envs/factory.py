"""Factories behind ``gymnasium.make("RISE/BrickSorting-v0")`` / ``gymnasium.make_vec(...)``.

The world model and the initial states come from the bundled default (``rise_env/assets/brick_sorting``,
manifest verified once per process) unless the caller passes their own folders or objects.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from rise_env.assets import INITIAL_STATES_DIR, WORLD_MODEL_DIR, default_asset_dir, verify_manifest
from rise_env.envs.config import ImaginationEnvConfig
from rise_env.envs.imagination_env import ImaginationEnv
from rise_env.envs.initial_states import InitialStateBank
from rise_env.envs.vector_env import ImaginationVectorEnv
from rise_env.world_model.compositional import WorldModelConfig

PathLike = str | os.PathLike
_VERIFIED: dict[str, Path] = {}
_LOCK = threading.Lock()


def bundled_asset_dir(task: str) -> Path:
    """The bundled asset folder of ``task``, its manifest verified on first use in this process."""
    with _LOCK:
        if task not in _VERIFIED:
            path = default_asset_dir(task)
            verify_manifest(path)
            _VERIFIED[task] = path
        return _VERIFIED[task]


def load_world_model(world_model: Any = None, task: str = "brick_sorting", device: str = "cpu", **overrides: Any):
    """A `ChunkWorldModel`: None → the bundled default; a folder → `CompositionalWorldModel.from_pretrained`;
    any other object is used as is. ``overrides`` (e.g. ``sample_steps=10``) apply to `WorldModelConfig`.
    """
    if world_model is not None and not isinstance(world_model, (str, os.PathLike)):
        if overrides:
            raise ValueError(f"world-model overrides {sorted(overrides)} need a folder, not a loaded world model")
        return world_model
    from rise_env.world_model.compositional import CompositionalWorldModel

    folder = bundled_asset_dir(task) / WORLD_MODEL_DIR if world_model is None else Path(world_model)
    if not folder.is_dir():
        raise FileNotFoundError(f"world_model={str(folder)!r} is not a folder (expected a CompositionalWorldModel "
                                "save_pretrained folder with world_model.json, dynamics/ and value/)")
    return CompositionalWorldModel.from_pretrained(folder, device=device, **overrides)


def load_initial_states(initial_states: Any = None, task: str = "brick_sorting") -> InitialStateBank:
    """None → the bundled bank; a folder → `InitialStateBank.load`; a bank is used as is."""
    if isinstance(initial_states, InitialStateBank):
        return initial_states
    if initial_states is not None and not isinstance(initial_states, (str, os.PathLike)):
        raise TypeError(f"initial_states must be None, a folder or an InitialStateBank, got {type(initial_states)}")
    folder = bundled_asset_dir(task) / INITIAL_STATES_DIR if initial_states is None else Path(initial_states)
    return InitialStateBank.load(folder)


def align_tasks(bank: InitialStateBank, task_names: list[str]) -> InitialStateBank:
    """Re-index the bank's tasks into the world model's ``task_names`` (by instruction string)."""
    if list(bank.task_names) == list(task_names):
        return bank
    missing = sorted({bank.task_names[i] for i in np.unique(bank.task_index)} - set(task_names))
    if missing:
        raise ValueError(f"initial states use tasks {missing} that the world model does not know ({task_names})")
    remap = np.array([task_names.index(n) if n in task_names else -1 for n in bank.task_names], np.int64)
    fields = {k: getattr(bank, k) for k in ("memory", "state", "actions", "episode_index", "frame_index")}
    return InitialStateBank(task_index=remap[bank.task_index], task_names=list(task_names),
                            camera_keys=bank.camera_keys, **fields)


def _split_overrides(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Env-config fields vs world-model fields (``sample_steps``, ``action_guidance``, ``advantage_scale``, …)."""
    env_fields = set(ImaginationEnvConfig.model_fields)
    wm_fields = set(WorldModelConfig.model_fields) - {"task_names"}
    unknown = sorted(set(kwargs) - env_fields - wm_fields)
    if unknown:
        raise TypeError(f"unknown argument(s) {unknown}; expected world_model, initial_states, device, "
                        f"ImaginationEnvConfig fields {sorted(env_fields)} or world-model fields {sorted(wm_fields)}")
    return ({k: v for k, v in kwargs.items() if k in env_fields}, {k: v for k, v in kwargs.items() if k in wm_fields})


def _parts(task: str, world_model: Any, initial_states: Any, device: str, kwargs: dict[str, Any]):
    env_kwargs, wm_kwargs = _split_overrides(kwargs)
    wm = load_world_model(world_model, task=task, device=device, **wm_kwargs)
    bank = align_tasks(load_initial_states(initial_states, task=task), list(wm.task_names))
    return wm, bank, env_kwargs


def make_brick_sorting_env(
    world_model: Any = None, initial_states: Any = None, device: str = "cpu", **config: Any
) -> ImaginationEnv:
    """Single imagination env for BrickSorting.

    Args:
        world_model: None (bundled default), a `CompositionalWorldModel` folder, or a `ChunkWorldModel` object.
        initial_states: None (bundled default), an `InitialStateBank` folder, or a bank.
        device: where the world model runs ("cpu", "cuda").
        **config: `ImaginationEnvConfig` fields (``max_chunks``, ``normalized_actions``, ``render_mode``, …)
            and world-model fields (``sample_steps``, ``action_guidance``, ``action_guidance_interval``, …).

    Step: action chunk (H, 14) → obs {top, left_wrist, right_wrist: (h, w, 3) uint8, state: (14,)},
    reward = chunk advantage (float), info["frames"] (K, 3, h, w, 3), info["values"] (K,).
    """
    wm, bank, env_kwargs = _parts("brick_sorting", world_model, initial_states, device, config)
    return ImaginationEnv(wm, bank, **env_kwargs)


def make_brick_sorting_vector_env(
    num_envs: int = 1,
    world_model: Any = None,
    initial_states: Any = None,
    device: str = "cpu",
    max_episode_steps: int | None = None,
    **config: Any,
) -> ImaginationVectorEnv:
    """Natively batched imagination env for BrickSorting (``num_envs`` slots, one batched forward per step).

    Arguments as `make_brick_sorting_env`; ``max_episode_steps`` (from ``gymnasium.make_vec``) sets ``max_chunks``.
    """
    wm, bank, env_kwargs = _parts("brick_sorting", world_model, initial_states, device, config)
    return ImaginationVectorEnv(wm, bank, num_envs=num_envs, max_episode_steps=max_episode_steps, **env_kwargs)

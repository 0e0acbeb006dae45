"""`ImaginationEnv`: the single-episode `gymnasium.Env` facade over `ImaginationVectorEnv`."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium.error import ResetNeeded

from rise_env.envs.config import ImaginationEnvConfig
from rise_env.envs.initial_states import InitialStateBank
from rise_env.envs.vector_env import ImaginationVectorEnv
from rise_env.world_model.protocol import ChunkWorldModel


class ImaginationEnv(gymnasium.Env):
    """One imagined episode: ``step(action_chunk (H, 14))`` imagines the chunk's frames and
    returns the chunk advantage as reward.

    ``info`` holds ``frames`` (K, V, H, W, 3) uint8, ``values`` (K,), ``value_t0``,
    ``advantage``, ``advantage_bin`` and ``chunk_index`` (plus ``disagreement`` when
    several samples are imagined).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        world_model: ChunkWorldModel,
        initial_states: InitialStateBank,
        config: ImaginationEnvConfig | None = None,
        **overrides: Any,
    ) -> None:
        overrides["autoreset_mode"] = "Disabled"
        self._vec = ImaginationVectorEnv(world_model, initial_states, num_envs=1, config=config, **overrides)
        self.config = self._vec.config
        self.observation_space = self._vec.single_observation_space
        self.action_space = self._vec.single_action_space
        self.render_mode = self.config.render_mode
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, infos = self._vec.reset(seed=None if seed is None else [seed], options=options)
        self._done = False
        return _first(obs), _unbatch_info(infos)

    def step(self, action: np.ndarray):
        if self._done:
            raise ResetNeeded("ImaginationEnv.step() needs reset() first: the episode has not started or has ended")
        action = np.asarray(action)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action chunk must have shape {self.action_space.shape}, got {action.shape}")
        obs, rew, term, trunc, infos = self._vec.step(action[None])
        self._done = bool(term[0] or trunc[0])
        return _first(obs), float(rew[0]), bool(term[0]), bool(trunc[0]), _unbatch_info(infos)

    def render(self) -> np.ndarray | None:
        tiles = self._vec.render()
        return None if tiles is None else tiles[0]

    def close(self) -> None:
        self._vec.close()
        self._done = True


def _first(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v[0].copy() for k, v in obs.items()}


def _unbatch_info(infos: dict[str, Any]) -> dict[str, Any]:
    """Slot 0 of a vector info dict, keeping only the keys whose mask is set."""
    out = {}
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        if infos.get(f"_{key}", np.ones(1, bool))[0]:
            item = value[0]
            out[key] = item.item() if isinstance(item, np.generic) else np.array(item, copy=True)
    return out

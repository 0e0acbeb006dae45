"""Stable-Baselines3 adapter: an `ImaginationVectorEnv` seen as an SB3 `VecEnv`.

SB3 expects same-step autoreset: a finished slot is reset inside the step that ended it,
its last observation goes into ``info["terminal_observation"]`` and time-limit ends are
marked with ``info["TimeLimit.truncated"]``.

Example:
    >>> from stable_baselines3 import PPO                                   # doctest: +SKIP
    >>> venv = SB3VecEnv(ImaginationVectorEnv(wm, bank, num_envs=4,       # doctest: +SKIP
    ...                                       autoreset_mode="SameStep"))
    >>> PPO("MultiInputPolicy", venv).learn(256)                             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv

from rise_env.envs.vector_env import ImaginationVectorEnv

# Scalar per-slot infos forwarded to SB3 (frames stay out: SB3 keeps infos in its buffers).
FORWARDED_INFO_KEYS = ("advantage", "advantage_bin", "value_t0", "chunk_index", "disagreement", "n_clipped")


class SB3VecEnv(VecEnv):
    """Wraps a same-step-autoreset `ImaginationVectorEnv` for SB3 algorithms."""

    def __init__(self, env: ImaginationVectorEnv) -> None:
        if env.metadata["autoreset_mode"] != AutoresetMode.SAME_STEP:
            raise ValueError(
                "SB3 needs same-step autoreset: build the env with autoreset_mode='SameStep' "
                f"(got {env.metadata['autoreset_mode'].value!r})"
            )
        self.env = env
        self._actions: np.ndarray | None = None
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)

    def reset(self) -> dict[str, np.ndarray]:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, infos = self.env.reset(seed=seeds)
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        obs, rewards, terminated, truncated, infos = self.env.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        per_slot: list[dict[str, Any]] = []
        for i in range(self.num_envs):
            info: dict[str, Any] = {}
            source = infos["final_info"] if dones[i] else infos
            for key in FORWARDED_INFO_KEYS:
                if key in source and source.get(f"_{key}", np.zeros(self.num_envs, bool))[i]:
                    info[key] = source[key][i].item()
            if dones[i]:
                info["terminal_observation"] = infos["final_obs"][i]
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            per_slot.append(info)
        return obs, rewards.astype(np.float32), dones, per_slot

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.env, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.env.render()
        return list(frames) if frames is not None else [None] * self.num_envs

    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.env.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)

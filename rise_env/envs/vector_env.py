"""`ImaginationVectorEnv`: N imagined episodes stepped by one batched world-model call.

Each slot holds its own episode: memory history, chunk counter and random stream. A slot
that ends is reset on its own (per the declared autoreset mode); the others are untouched,
so episodes are never spliced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rise_env.envs.config import ImaginationEnvConfig
from rise_env.envs.initial_states import InitialStateBank
from rise_env.spec import STATE_KEY, action_chunk_space, observation_space, validate_action_chunk
from rise_env.world_model.memory import sparse_memory_indices
from rise_env.world_model.protocol import ChunkWorldModel, ImaginedChunk


class ImaginationVectorEnv(VectorEnv):
    """Natively batched imagination env.

    Args:
        world_model: batched model that imagines and scores chunks (`ChunkWorldModel`).
        initial_states: start points (memory frames, state, task) drawn at reset.
        num_envs: number of slots N.
        config: episode settings; keyword overrides are applied on top.

    Step: actions (N, H, 14) → obs {camera: (N, H, W, 3) uint8, state: (N, 14)}, reward (N,)
    = chunk advantage, terminated (N,) (always False: imagination has no ground-truth end),
    truncated (N,) after ``max_chunks`` chunks, infos with ``frames`` (N, K, V, H, W, 3),
    ``values`` (N, K), ``value_t0``, ``advantage_bin``, ``chunk_index`` and their ``_key`` masks.

    The next ``state`` is the chunk's last commanded joint target: position-controlled arms
    settle on their last command, and the video model does not predict joint readings.
    """

    def __init__(
        self,
        world_model: ChunkWorldModel,
        initial_states: InitialStateBank,
        num_envs: int = 1,
        config: ImaginationEnvConfig | None = None,
        max_episode_steps: int | None = None,
        **overrides: Any,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if max_episode_steps is not None:  # gymnasium.make_vec passes the spec's limit
            overrides.setdefault("max_chunks", max_episode_steps)
        config = (config or ImaginationEnvConfig()).model_copy(update=overrides)
        self.config = ImaginationEnvConfig.model_validate(config.model_dump())
        self.world_model = world_model
        self.initial_states = initial_states
        robot = world_model.robot
        if list(initial_states.camera_keys) != list(robot.camera_keys):
            raise ValueError(
                f"initial states have views {initial_states.camera_keys}, the world model expects {robot.camera_keys}"
            )
        cam = robot.cameras[0]
        if initial_states.memory.shape[3:5] != (cam.height, cam.width):
            raise ValueError(
                f"initial states are {initial_states.memory.shape[3:5]} pixels, the world model "
                f"imagines {(cam.height, cam.width)}"
            )
        self.num_envs = num_envs
        self.robot = robot
        self.horizon = world_model.chunk_size
        self._low, self._high = robot.action_limits()
        self.single_observation_space = observation_space(robot)
        self.single_action_space = action_chunk_space(robot, self.horizon, self.config.normalized_actions)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.render_mode = self.config.render_mode
        self.metadata = {
            "render_modes": ["rgb_array"],
            "render_fps": 15,
            "autoreset_mode": AutoresetMode(self.config.autoreset_mode),
        }
        self._history: list[list[np.ndarray]] = [[] for _ in range(num_envs)]  # per slot: frames (V,H,W,3)
        self._state = np.zeros((num_envs, robot.action_dim), np.float32)
        self._task = np.zeros(num_envs, np.int64)
        self._chunk_index = np.zeros(num_envs, np.int64)
        self._start_index = np.zeros(num_envs, np.int64)
        self._rngs: list[np.random.Generator] = [np.random.default_rng() for _ in range(num_envs)]
        self._needs_reset = np.ones(num_envs, bool)
        self._was_reset = False

    # ------------------------------------------------------------------ reset
    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        """Reset every slot (or those in ``options['reset_mask']``). Int seeds expand to seed + i."""
        options = dict(options or {})
        mask = np.asarray(options.pop("reset_mask", np.ones(self.num_envs, bool)), bool)
        if mask.shape != (self.num_envs,):
            raise ValueError(f"reset_mask must have shape ({self.num_envs},), got {mask.shape}")
        seeds = self._expand_seeds(seed)
        index = options.pop("initial_state_index", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; expected reset_mask, initial_state_index")
        for i in np.flatnonzero(mask):
            if seeds[i] is not None:
                self._rngs[i] = np.random.default_rng(seeds[i])
            self._reset_slot(i, index)
        self._was_reset = True
        infos: dict[str, Any] = {}
        self._put(infos, "initial_state_index", self._start_index.copy(), mask)
        return self._observation(), infos

    def _expand_seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)):
            return [int(seed) + i for i in range(self.num_envs)]
        if len(seed) != self.num_envs:
            raise ValueError(f"got {len(seed)} seeds for {self.num_envs} slots")
        return list(seed)

    def _reset_slot(self, i: int, index: int | None = None) -> None:
        bank = self.initial_states
        start = int(self._rngs[i].integers(len(bank))) if index is None else int(index)
        if not 0 <= start < len(bank):
            raise ValueError(f"initial_state_index must be in [0, {len(bank)}), got {start}")
        self._start_index[i] = start
        self._history[i] = list(bank.memory[start])
        self._state[i] = bank.state[start]
        self._task[i] = bank.task_index[start]
        self._chunk_index[i] = 0
        self._needs_reset[i] = False

    # ------------------------------------------------------------------- step
    def step(self, actions: np.ndarray):
        if not self._was_reset:
            raise RuntimeError("ImaginationVectorEnv.step() called before reset(); call reset() first")
        chunks, n_clipped = self._validate(actions)
        mode = self.metadata["autoreset_mode"]
        autoreset = self._needs_reset.copy() if mode == AutoresetMode.NEXT_STEP else np.zeros(self.num_envs, bool)
        if mode == AutoresetMode.DISABLED and self._needs_reset.any():
            raise RuntimeError(
                f"slots {np.flatnonzero(self._needs_reset).tolist()} finished; reset them with "
                "reset(options={'reset_mask': mask}) before stepping (autoreset mode 'Disabled')"
            )
        for i in np.flatnonzero(autoreset):
            self._reset_slot(i)
        active = ~autoreset
        rewards = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, bool)
        truncated = np.zeros(self.num_envs, bool)
        infos: dict[str, Any] = {}
        if active.any():
            self._imagine(np.flatnonzero(active), chunks, rewards, truncated, infos)
        self._put(infos, "n_clipped", n_clipped, active)
        done = terminated | truncated
        if mode == AutoresetMode.SAME_STEP and done.any():
            final_obs = self._observation()
            infos["final_obs"] = np.array([None] * self.num_envs, dtype=object)
            infos["final_info"] = {k: v for k, v in infos.items() if k not in ("final_obs",)}
            for i in np.flatnonzero(done):
                infos["final_obs"][i] = {k: v[i].copy() for k, v in final_obs.items()}
                self._reset_slot(i)
            infos["_final_obs"] = done.copy()
            infos["_final_info"] = done.copy()
        else:
            self._needs_reset = done
        return self._observation(), rewards, terminated, truncated, infos

    def _validate(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All slots are checked before any is stepped, so a refused batch changes nothing."""
        actions = np.asarray(actions)
        expected = (self.num_envs, self.horizon, self.robot.action_dim)
        if actions.shape != expected:
            raise ValueError(f"actions must have shape {expected} (slots, horizon, joints), got {actions.shape}")
        if self.config.normalized_actions:
            low, high = -np.ones_like(self._low), np.ones_like(self._high)
        else:
            low, high = self._low, self._high
        out = np.empty(expected, np.float32)
        n_clipped = np.zeros(self.num_envs, np.int64)
        for i in range(self.num_envs):
            chunk, n_clipped[i] = validate_action_chunk(actions[i], low, high, self.horizon, self.config.clip_actions)
            out[i] = chunk
        if self.config.normalized_actions:
            out = self._low + (out + 1.0) * 0.5 * (self._high - self._low)
        return out.astype(np.float32), n_clipped

    def _imagine(self, slots: np.ndarray, chunks, rewards, truncated, infos) -> None:
        m = self.world_model.num_memory_frames
        s = self.config.num_samples
        memory = np.stack([np.stack(self._history[i])[sparse_memory_indices(len(self._history[i]), m)] for i in slots])
        seeds = np.array([self._rngs[i].integers(2**31 - 1, size=s) for i in slots], np.int64)  # (B, S)
        rep = lambda x: np.repeat(x, s, axis=0)  # noqa: E731  rows ordered slot-major, sample-minor
        out: ImaginedChunk = self.world_model.imagine_chunk(
            rep(memory), rep(self._state[slots]), rep(chunks[slots]), rep(self._task[slots]), seeds.reshape(-1)
        )
        frames = out.frames.reshape(len(slots), s, *out.frames.shape[1:])
        first = lambda x: x.reshape(len(slots), s, *x.shape[1:])[:, 0]  # noqa: E731
        k_frames = frames[:, 0]
        for row, i in enumerate(slots):
            self._history[i].extend(list(k_frames[row]))
            self._state[i] = chunks[i, -1]
            self._chunk_index[i] += 1
        rewards[slots] = first(out.advantage).astype(np.float64)
        truncated[slots] = self._chunk_index[slots] >= self.config.max_chunks
        mask = np.zeros(self.num_envs, bool)
        mask[slots] = True
        self._put(infos, "frames", k_frames, mask, slots)
        self._put(infos, "values", first(out.values), mask, slots)
        self._put(infos, "value_t0", first(out.value_t0), mask, slots)
        self._put(infos, "advantage", first(out.advantage), mask, slots)
        self._put(infos, "advantage_bin", first(out.advantage_bin), mask, slots)
        self._put(infos, "chunk_index", self._chunk_index[slots].copy(), mask, slots)
        if s > 1:
            disagreement = frames.astype(np.float32).std(axis=1).mean(axis=tuple(range(1, frames.ndim - 1))) / 255.0
            self._put(infos, "disagreement", disagreement, mask, slots)
            self._put(infos, "advantage_samples", out.advantage.reshape(len(slots), s), mask, slots)
            if self.config.disagreement_threshold is not None:
                truncated[slots] |= disagreement > self.config.disagreement_threshold

    def _put(self, infos: dict, key: str, values: np.ndarray, mask: np.ndarray, slots: np.ndarray | None = None):
        """Store per-slot values as a batched array with its ``_key`` mask (Gymnasium's vector info layout)."""
        values = np.asarray(values)
        if slots is None:
            full = values.copy()
        else:
            full = np.zeros((self.num_envs, *values.shape[1:]), values.dtype)
            full[slots] = values
        infos[key] = full
        infos[f"_{key}"] = mask.copy()

    # ---------------------------------------------------------- observation
    def _observation(self) -> dict[str, np.ndarray]:
        """Fresh arrays: the newest frame of every slot's history, and its state."""
        newest = np.stack([h[-1] for h in self._history])  # (N, V, H, W, 3)
        obs = {key: newest[:, v].copy() for v, key in enumerate(self.robot.camera_keys)}
        obs[STATE_KEY] = self._state.copy()
        return obs

    def render(self) -> tuple[np.ndarray, ...] | None:
        """Per slot, the views of the newest frame side by side: (H, V*W, 3) uint8."""
        if self.render_mode is None:
            return None
        return tuple(np.concatenate(list(h[-1]), axis=1) for h in self._history)

    def close(self, **kwargs: Any) -> None:
        self._history = [[] for _ in range(self.num_envs)]
        self._was_reset = False

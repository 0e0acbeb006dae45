"""Record one episode of an env + expert pair into an :class:`rise_env.data.Episode`.

Contract of the env (``BrickSortingSimEnv`` with ``info_frame_hz=30``) and expert::

    obs, info = env.reset(seed=s)
    expert = make_expert(env, mode=mode, seed=s)
    chunk = expert.act(obs)                    # chunk.actions (H, 14), chunk.intervention (H,)
                                               # optional chunk.labels (H, 14): targets to record
    obs, reward, terminated, truncated, info = env.step(chunk.actions)
    # info["frames"] (K, 3, h, w, 3): observation after each executed control step (camera order)
    # info["frame_states"] (K, 14); info["executed_actions"] (K, 14); info["score"], info["success"]

Recorded frame ``i`` = (observation before action ``i``, action ``i``); the observation after the
last action is not recorded (it has no action). The recorded action is what the env executed,
unless the expert's chunk carries ``labels`` (DART demonstrations: noisy execution, clean labels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rise_env.data import Episode
from rise_env.spec import CAMERA_KEYS, STATE_KEY

EnvFactory = Callable[..., Any]
ExpertFactory = Callable[..., Any]


def record_episode(
    env: Any,
    make_expert: ExpertFactory,
    mode: str,
    seed: int,
    task: str,
    max_chunks: int = 10_000,
    expert_kwargs: dict[str, Any] | None = None,
) -> Episode:
    """Run one episode with the expert in ``mode`` from ``env.reset(seed=seed)`` and return it.

    Returns:
        An :class:`Episode` with ``T`` frames: images per camera ``(T, h, w, 3)`` uint8, states and
        actions ``(T, 14)`` float32, the expert's intervention flags, ``source=mode``, and the env's
        final ``success`` and ``score``; ``extras={"seed": seed}``. ``expert_kwargs`` go to
        ``make_expert``.
    """
    obs, _ = env.reset(seed=seed)
    expert = make_expert(env, mode=mode, seed=seed, **(expert_kwargs or {}))
    views: list[np.ndarray] = []  # each (k, 3, h, w, 3): observations before the chunk's actions
    states: list[np.ndarray] = []
    actions: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    info: dict = {}
    for _ in range(max_chunks):
        view_now = np.stack([obs[c] for c in CAMERA_KEYS])[None]
        state_now = np.asarray(obs[STATE_KEY], np.float32)[None]
        chunk = expert.act(obs)
        obs, _, terminated, truncated, info = env.step(chunk.actions)
        executed = np.asarray(info["executed_actions"], np.float32)
        k = len(executed)
        frames, frame_states = np.asarray(info["frames"]), np.asarray(info["frame_states"], np.float32)
        if len(frames) != k or len(frame_states) != k:
            raise RuntimeError(
                f"env returned {len(frames)} frames and {len(frame_states)} states for {k} executed actions; "
                "construct it with info_frame_hz equal to the control rate (30 Hz)"
            )
        if k:
            views.append(np.concatenate([view_now, frames[: k - 1]]))
            states.append(np.concatenate([state_now, frame_states[: k - 1]]))
            labels = getattr(chunk, "labels", None)
            actions.append(executed if labels is None else np.asarray(labels, np.float32)[:k])
            flags.append(np.asarray(chunk.intervention, bool)[:k])
        if terminated or truncated:
            break
    else:
        raise RuntimeError(f"episode (mode={mode}, seed={seed}) did not end within {max_chunks} chunks")
    if not actions:
        raise RuntimeError(f"episode (mode={mode}, seed={seed}) executed no action")
    images = {c: np.concatenate([v[:, i] for v in views]) for i, c in enumerate(CAMERA_KEYS)}
    return Episode(
        task=task,
        states=np.concatenate(states),
        actions=np.concatenate(actions),
        images=images,
        intervention=np.concatenate(flags),
        source=mode,
        success=bool(info.get("success", False)),
        final_score=float(info.get("score", 0.0)),
        extras={"seed": int(seed)},
    )

"""One recorded episode in memory, and its validation against the dataset layout."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rise_env.data.layout import SOURCES, DatasetConfig


class EpisodeError(ValueError):
    """An episode was refused: a feature with the wrong shape, dtype or values, or bad metadata."""


@dataclass
class Episode:
    """A finished episode of ``T`` frames.

    Frame ``i`` pairs the observation *before* action ``i`` with action ``i``.

    Attributes:
        task: natural-language instruction, e.g. "sort the bricks by colour".
        states: ``(T, 14)`` float32 joint positions (``observation.state``).
        actions: ``(T, 14)`` float32 absolute joint targets.
        images: camera name -> ``(T, H, W, 3)`` uint8 frames, one entry per camera of the robot.
        intervention: ``(T,)`` bool, True where a human/expert correction produced the action;
            all False when None.
        source: "demo", "rollout" or "correction".
        success: whether the episode solved the task.
        final_score: task score at the end of the episode (e.g. the stage-wise rubric).
        rewards: ``(T,)`` float32 ``next.reward``; None gives the sparse terminal reward
            (+1 on the last frame of a success, -1 on the last frame of a failure, 0 elsewhere).
        extras: optional scalar per-episode columns (e.g. ``{"seed": 7}``), same keys in every episode.
    """

    task: str
    states: np.ndarray
    actions: np.ndarray
    images: dict[str, np.ndarray]
    intervention: np.ndarray | None = None
    source: str = "demo"
    success: bool = False
    final_score: float = 0.0
    rewards: np.ndarray | None = None
    extras: dict[str, int | float | str | bool] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(np.asarray(self.states).shape[0])


def terminal_rewards(length: int, success: bool) -> np.ndarray:
    """``(T,)`` float32: +1 (success) or -1 (failure) on the last frame, 0 elsewhere."""
    r = np.zeros(length, np.float32)
    r[-1] = 1.0 if success else -1.0
    return r


def _float_matrix(name: str, value: object, length: int | None, dim: int) -> np.ndarray:
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.floating):
        raise EpisodeError(f"{name} must be a float32 array of shape (T, {dim}), got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != dim or (length is not None and arr.shape[0] != length):
        want = f"({length if length is not None else 'T'}, {dim})"
        raise EpisodeError(f"{name} must have shape {want}, got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        t, d = np.argwhere(bad)[0]
        raise EpisodeError(f"{name} contains {int(bad.sum())} NaN/inf value(s), first at frame {t}, dim {d}")
    return arr.astype(np.float32, copy=False)


def validate_episode(ep: Episode, cfg: DatasetConfig) -> Episode:
    """Check every feature of ``ep`` against ``cfg`` and return a normalised copy.

    Raises:
        EpisodeError: naming the feature, what was wrong and what was expected.
    """
    if not isinstance(ep.task, str) or not ep.task.strip():
        raise EpisodeError(f"task must be a non-empty string, got {ep.task!r}")
    dim = cfg.robot.action_dim
    states = _float_matrix("states (observation.state)", ep.states, None, dim)
    length = states.shape[0]
    if length < 1:
        raise EpisodeError("an episode needs at least one frame, got 0")
    actions = _float_matrix("actions", ep.actions, length, dim)
    if not isinstance(ep.images, dict):
        raise EpisodeError(f"images must be a dict camera -> (T, H, W, 3) uint8, got {type(ep.images).__name__}")
    expected = cfg.image_shape
    unknown = sorted(set(ep.images) - set(expected))
    if unknown:
        raise EpisodeError(f"unknown camera(s) {unknown}; this dataset records {list(expected)}")
    missing = [c for c in expected if c not in ep.images]
    if missing:
        raise EpisodeError(f"missing camera(s) {missing}; every episode needs {list(expected)}")
    images = {}
    for cam, shape in expected.items():
        img = np.asarray(ep.images[cam])
        if img.dtype != np.uint8:
            raise EpisodeError(f"images[{cam!r}] must be uint8, got {img.dtype}")
        if img.shape != (length, *shape):
            raise EpisodeError(f"images[{cam!r}] must have shape {(length, *shape)}, got {img.shape}")
        images[cam] = img
    if ep.intervention is None:
        intervention = np.zeros(length, bool)
    else:
        intervention = np.asarray(ep.intervention)
        if intervention.dtype != bool or intervention.shape != (length,):
            raise EpisodeError(
                f"intervention must be a bool array of shape ({length},), got {intervention.dtype} {intervention.shape}"
            )
    if ep.source not in SOURCES:
        raise EpisodeError(f"source must be one of {SOURCES}, got {ep.source!r}")
    success = ep.success
    if isinstance(success, np.bool_):
        success = bool(success)
    if not isinstance(success, bool):
        raise EpisodeError(f"success must be a bool, got {type(ep.success).__name__}")
    try:
        score = float(ep.final_score)
    except (TypeError, ValueError):
        raise EpisodeError(f"final_score must be a real number, got {ep.final_score!r}") from None
    if not math.isfinite(score):
        raise EpisodeError(f"final_score must be finite, got {score}")
    if ep.rewards is None:
        rewards = terminal_rewards(length, success)
    else:
        rewards = np.asarray(ep.rewards)
        if not np.issubdtype(rewards.dtype, np.floating) or rewards.shape != (length,):
            raise EpisodeError(
                f"rewards must be a float array of shape ({length},), got {rewards.dtype} {rewards.shape}"
            )
        if not np.isfinite(rewards).all():
            raise EpisodeError("rewards contain NaN/inf")
        rewards = rewards.astype(np.float32)
    for key, val in ep.extras.items():
        if not isinstance(val, (bool, int, float, str)) or key in _RESERVED:
            raise EpisodeError(f"extras[{key!r}] must be a scalar bool/int/float/str under a new column name")
    return Episode(
        task=ep.task,
        states=states,
        actions=actions,
        images=images,
        intervention=intervention,
        source=ep.source,
        success=success,
        final_score=score,
        rewards=rewards,
        extras=dict(ep.extras),
    )


_RESERVED = {"episode_index", "tasks", "length", "source", "success", "final_score"}

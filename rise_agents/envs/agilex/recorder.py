"""Turn executed ticks into ``rise_env.data.Episode`` s for the LeRobotDataset v3.0 writer.

One dataset frame per control tick (30 Hz): the camera images and measured state at the start of
the tick (the observation *before* the action) and the command actually sent that tick (after the
safety filter). Teleop demos, policy rollouts and human corrections differ only in ``source`` and
in the per-frame ``intervention`` flags::

    recorder = EpisodeRecorder()
    env = AgileXEnv(cfg, recorder=recorder)          # every step() is recorded
    env.reset()
    env.step(policy_chunk)
    with recorder.intervening():                     # a human correction
        env.step(teleop_chunk)
    episode = recorder.finish("sort the bricks", source="correction", success=True, final_score=10.0)
    recorder.save(LeRobotDatasetWriter("data/brick_sorting"), episode)

Images are kept by reference until ``finish`` (no copies per tick); a minute at 30 Hz with three
192x256 cameras holds about 0.8 GB.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from rise_agents.envs.agilex.executor import TickRecord
from rise_env.spec import CAMERA_KEYS


class EpisodeRecorder:
    """Accumulates frames (images, state, action, intervention) of one episode at a time.

    Args:
        camera_keys: camera names in the order of ``TickRecord.frames``.
    """

    def __init__(self, camera_keys: Sequence[str] = CAMERA_KEYS) -> None:
        self.camera_keys = tuple(camera_keys)
        self.intervention = False
        self._reset_buffers()

    def _reset_buffers(self) -> None:
        self._images: dict[str, list[np.ndarray]] = {k: [] for k in self.camera_keys}
        self._states: list[np.ndarray] = []
        self._actions: list[np.ndarray] = []
        self._intervention: list[bool] = []

    @property
    def length(self) -> int:
        """Frames recorded so far in the current episode."""
        return len(self._states)

    def start_episode(self) -> None:
        """Begin a new episode (called by ``AgileXEnv.reset``); unfinished frames are dropped with a warning."""
        if self.length:
            warnings.warn(
                f"EpisodeRecorder: dropping {self.length} unfinished frame(s); call finish() before reset()",
                stacklevel=2,
            )
        self._reset_buffers()
        self.intervention = False

    @contextlib.contextmanager
    def intervening(self, flag: bool = True) -> Iterator[None]:
        """Frames recorded inside the block carry ``intervention = flag``."""
        previous, self.intervention = self.intervention, flag
        try:
            yield
        finally:
            self.intervention = previous

    def add_records(self, records: Sequence[TickRecord], intervention: bool | None = None) -> None:
        """Append executed ticks (from ``AgileXEnv.step``)."""
        flag = self.intervention if intervention is None else bool(intervention)
        for r in records:
            if len(r.frames) != len(self.camera_keys):
                raise ValueError(f"tick {r.tick} has {len(r.frames)} frames, expected {len(self.camera_keys)}")
            for key, frame in zip(self.camera_keys, r.frames):
                self._images[key].append(frame.image)
            self._states.append(np.asarray(r.state, dtype=np.float32))
            self._actions.append(np.asarray(r.command, dtype=np.float32))
            self._intervention.append(flag)

    def add_frame(
        self, images: Mapping[str, np.ndarray], state: np.ndarray, action: np.ndarray, intervention: bool | None = None
    ) -> None:
        """Append one frame from any source (e.g. a teleop loop): images by camera name (H, W, 3) uint8,
        state (14,) and action (14,)."""
        missing = [k for k in self.camera_keys if k not in images]
        if missing:
            raise ValueError(f"add_frame: missing camera image(s) {missing}; expected {list(self.camera_keys)}")
        for key in self.camera_keys:
            self._images[key].append(np.asarray(images[key], dtype=np.uint8))
        self._states.append(np.asarray(state, dtype=np.float32).reshape(-1))
        self._actions.append(np.asarray(action, dtype=np.float32).reshape(-1))
        self._intervention.append(self.intervention if intervention is None else bool(intervention))

    def finish(
        self, task: str, source: str = "rollout", success: bool = False, final_score: float = 0.0,
        rewards: np.ndarray | None = None, extras: dict[str, Any] | None = None,
    ) -> Any:
        """Close the episode and return it as a ``rise_env.data.Episode`` (validated when saved)."""
        from rise_env.data import Episode  # the dataset layer is only needed when recording

        if not self.length:
            raise ValueError("EpisodeRecorder.finish: no frames recorded in this episode")
        episode = Episode(
            task=task,
            states=np.stack(self._states),
            actions=np.stack(self._actions),
            images={k: np.stack(v) for k, v in self._images.items()},
            intervention=np.asarray(self._intervention, dtype=bool),
            source=source,
            success=bool(success),
            final_score=float(final_score),
            rewards=rewards,
            extras=dict(extras or {}),
        )
        self._reset_buffers()
        return episode

    @staticmethod
    def save(writer: Any, episode: Any, episode_id: int | None = None) -> int:
        """Stage ``episode`` with a ``rise_env.data.LeRobotDatasetWriter``; returns the episode id."""
        return int(writer.add_episode(episode, episode_id=episode_id))

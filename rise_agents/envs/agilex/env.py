"""``AgileXEnv``: the real dual-arm AgileX rig behind the shared chunked Gymnasium interface.

``step(chunk)`` takes ``(H, 14)`` absolute joint targets ``[left j1..j6, left gripper (m),
right j1..j6, right gripper]``, executes them at 30 Hz through the safety filter, and returns when
the chunk's last tick has run. Bad chunks (wrong shape, NaN/inf, out of limits) are refused before
anything is sent. Faults (feedback lost, camera lost, CAN error, arm error, command timeout) bring
the arms to a safe stop and are raised from ``step()``; ``reset()`` re-enables.

Use it as a context manager so Ctrl-C stops the arms safely::

    with AgileXEnv(AgileXConfig(...)) as env:
        obs, info = env.reset()
        obs, reward, terminated, truncated, info = env.step(chunk)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from rise_agents.envs.agilex.cameras import Camera, make_camera
from rise_agents.envs.agilex.config import AgileXConfig
from rise_agents.envs.agilex.errors import AgileXError, AgileXFault, EmergencyStopError
from rise_agents.envs.agilex.executor import ChunkExecutor, TickRecord
from rise_agents.envs.agilex.piper_arm import PiperArm
from rise_agents.envs.agilex.safety import SafetyFilter, SigintGuard
from rise_env.spec import STATE_KEY, action_chunk_space, observation_space, validate_action_chunk

Scorer = Callable[[dict[str, np.ndarray], dict[str, Any]], float]


class AgileXEnv(gym.Env):
    """Dual Piper arms over CAN + three RGB cameras, stepped one action chunk at a time.

    Args:
        config: the rig (CAN interfaces, cameras, limits, rates, watchdogs).
        scorer: optional ``scorer(obs, info) -> float`` (e.g. a value model's chunk advantage);
            the reward is 0.0 without one.
        cameras: ready-made cameras to use instead of building them from ``config.cameras``.
        recorder: optional ``EpisodeRecorder`` fed with every executed tick.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        config: AgileXConfig | None = None,
        scorer: Scorer | None = None,
        cameras: Sequence[Camera] | None = None,
        recorder: Any | None = None,
        render_mode: str | None = "rgb_array",
    ) -> None:
        self.config = config or AgileXConfig()
        self.spec_robot = self.config.robot_spec()
        self.observation_space = observation_space(self.spec_robot)
        self.action_space = action_chunk_space(self.spec_robot, self.config.chunk_horizon)
        self.render_mode = render_mode
        self.scorer = scorer
        self.recorder = recorder
        self._low, self._high = self.config.action_limits()
        self.arms = [PiperArm(a) for a in self.config.arms]
        h, w = self.config.image_height, self.config.image_width
        self.cameras = list(cameras) if cameras is not None else [
            make_camera(c, h, w) for c in self.config.cameras
        ]
        self._cameras_started = False
        self.safety = SafetyFilter(self.arms, self._low, self._high, self.config.max_step())
        self.executor: ChunkExecutor | None = None
        self._sigint: SigintGuard | None = None
        self._chunks = 0
        self._closed = False

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Connect (first call), enable both arms, start cameras and the 30 Hz executor, go home."""
        super().reset(seed=seed)
        if self._closed:
            raise AgileXError("this AgileXEnv is closed; create a new one")
        cfg = self.config
        previous = self.executor
        if previous is not None:
            previous.stop()
        for arm in self.arms:
            if not arm.connected:
                arm.connect()
            if previous is not None and isinstance(previous.fault, EmergencyStopError):
                arm.reset_after_emergency_stop()
        if not self._cameras_started:
            for cam in self.cameras:
                cam.start()
            self._cameras_started = True
        for cam in self.cameras:
            cam.wait_first_frame(max(2.0, cfg.camera_timeout_s))
        for arm in self.arms:
            arm.wait_ready(cfg.feedback_timeout_s, cfg.enable_timeout_s)
            arm.enable(cfg.enable_timeout_s)
        for arm in self.arms:
            arm.wait_ready(cfg.feedback_timeout_s, cfg.enable_timeout_s)
        measured = self._measured()
        self.executor = ChunkExecutor(cfg, self.arms, self.cameras, self.safety)
        self.executor.start(measured)
        if cfg.home_pose is not None:
            self._go_to(np.asarray(cfg.home_pose, dtype=np.float64), measured, cfg.home_duration_s)
        self._chunks = 0
        if self.recorder is not None:
            self.recorder.start_episode()
        return self._observation(), {"state_at_reset": measured.astype(np.float32)}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        """Execute one (H, 14) chunk; returns once its last tick has run (about H / 30 s)."""
        chunk, n_clipped = self._validate(action)
        ex = self._require_executor()
        start = ex.submit(chunk)
        horizon = len(chunk)
        ex.wait_tick(start + horizon - 1, timeout=4.0 * horizon * ex.period + 2.0)
        records = ex.window(start, start + horizon)
        info = self._chunk_info(records, start, n_clipped)
        if self.recorder is not None:
            self.recorder.add_records(records)
        obs = self._observation()
        reward = float(self.scorer(obs, info)) if self.scorer is not None else 0.0
        self._chunks += 1
        truncated = bool(self.config.max_chunks is not None and self._chunks >= self.config.max_chunks)
        return obs, reward, False, truncated, info

    def render(self) -> np.ndarray | None:
        """The latest top-camera image (H, W, 3) uint8."""
        return self._observation()[self.spec_robot.camera_keys[0]]

    def close(self) -> None:
        """Stop the executor, disable the arms (``disable_on_close``), release cameras and CAN."""
        if self._closed:
            return
        self._closed = True
        if self._sigint is not None:
            self._sigint.restore()
            self._sigint = None
        if self.executor is not None:
            self.executor.stop()
        if self.config.disable_on_close:
            last = self.safety.last_sent
            for i, arm in enumerate(self.arms):
                if arm.connected:
                    try:
                        arm.disable(None if last is None else float(last[7 * i + 6]))
                    except Exception:  # noqa: BLE001 - release everything regardless
                        pass
        for cam in self.cameras if self._cameras_started else []:
            cam.stop()
        for arm in self.arms:
            arm.close()

    def __enter__(self) -> AgileXEnv:
        self._sigint = SigintGuard(lambda: self.safe_stop("interrupted by SIGINT (Ctrl-C)")).install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ asynchronous use and safety
    def submit_chunk(self, action: np.ndarray, start_tick: int | None = None) -> int:
        """Blend a chunk into the running plan without waiting (for an asynchronous inference thread).

        ``start_tick``: the tick row 0 was predicted for (``get_observation()``'s tick); rows for
        ticks already executed are dropped. Returns the start tick used.
        """
        chunk, _ = self._validate(action)
        return self._require_executor().submit(chunk, start_tick)

    def get_observation(self) -> tuple[dict[str, np.ndarray], int]:
        """Latest observation and the next tick (the tick a chunk predicted from it should start at)."""
        tick = self._require_executor().next_tick
        return self._observation(), tick

    def safe_stop(self, reason: str | AgileXFault = "safe stop requested") -> None:
        """Hold the current position, then disable the arms; the next step() raises."""
        fault = reason if isinstance(reason, AgileXFault) else AgileXFault(str(reason))
        if self.executor is not None:
            self.executor.safe_stop(fault)

    def emergency_stop(self, reason: str = "emergency stop requested") -> None:
        """Firmware quick stop (0x150) on both arms at once; reset() clears it and re-enables."""
        if self.executor is not None:
            self.executor.emergency_stop(reason)
        else:
            for arm in self.arms:
                if arm.connected:
                    arm.emergency_stop()

    @property
    def current_tick(self) -> int:
        return self._require_executor().next_tick

    # ------------------------------------------------------------------ helpers
    def _validate(self, action: np.ndarray) -> tuple[np.ndarray, int]:
        return validate_action_chunk(
            action, self._low, self._high, self.config.chunk_horizon, clip=self.config.clip_actions
        )

    def _require_executor(self) -> ChunkExecutor:
        if self.executor is None:
            raise AgileXError("AgileXEnv.reset() must be called before step()/submit_chunk()")
        if self.executor.fault is not None:
            raise self.executor.fault
        return self.executor

    def _measured(self) -> np.ndarray:
        fbs = [arm.read() for arm in self.arms]
        for arm, fb in zip(self.arms, fbs):
            if fb.age() > max(1.0, self.config.feedback_timeout_s):
                raise AgileXError(
                    f"{arm.name} arm sends no feedback; is it powered and on '{arm.config.can_interface}'?"
                )
            arm.check_fault(fb)
        return np.concatenate([fb.position for fb in fbs])

    def _observation(self) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {}
        for cam in self.cameras:
            obs[cam.name] = cam.latest(self.config.camera_timeout_s).image.copy()
        state = self.executor.latest_state if self.executor is not None else None
        if state is None:
            state = self._measured()
        obs[STATE_KEY] = np.clip(state, self._low, self._high).astype(np.float32)
        return obs

    def _go_to(self, target: np.ndarray, start: np.ndarray, duration: float) -> None:
        n = max(1, int(round(duration * self.config.control_hz)))
        traj = start + (target - start) * np.linspace(0.0, 1.0, n)[:, None]
        ex = self._require_executor()
        first = ex.submit(traj)
        ex.wait_tick(first + n - 1, timeout=4.0 * n * ex.period + 2.0)

    def _chunk_info(self, records: list[TickRecord], start: int, n_clipped: int) -> dict[str, Any]:
        stride = self.config.frame_stride
        horizon = len(records)
        offsets = list(range(stride - 1, horizon, stride)) or [horizon - 1]
        sampled = [records[i] for i in offsets]
        frames = np.stack([np.stack([f.image for f in r.frames]) for r in sampled])
        return {
            "frames": frames,  # (K, views, H, W, 3) uint8, views = top, left_wrist, right_wrist
            "frame_states": np.stack([r.state for r in sampled]).astype(np.float32),  # (K, 14)
            "frame_ticks": np.array([r.tick for r in sampled], dtype=np.int64),
            "frame_timestamps": np.array([[f.stamp for f in r.frames] for r in sampled]),  # (K, views) s
            "executed_actions": np.stack([r.command for r in records]).astype(np.float32),  # (H, 14)
            "states": np.stack([r.state for r in records]).astype(np.float32),  # (H, 14)
            "timestamps": np.array([r.start for r in records]),  # (H,) monotonic s
            "deadlines": np.array([r.deadline for r in records]),  # (H,) monotonic s
            "start_tick": int(start),
            "n_clipped": int(n_clipped),
            "camera_keys": tuple(self.spec_robot.camera_keys),
        }

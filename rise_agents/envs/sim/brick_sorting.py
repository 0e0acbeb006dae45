"""``BrickSortingSimEnv``: Dynamic Brick Sorting in the MuJoCo twin of the AgileX rig.

Same interface as the imagination and real envs: ``step`` takes an action chunk ``(H, 14)`` of
absolute joint targets (rad) and gripper openings (m) at 30 Hz and returns the flat Dict
observation ``{top, left_wrist, right_wrist: (h, w, 3) uint8, state: (14,) float32}``.
The reward is the task score gained during the chunk (paper Table VII).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from typing import Any  # noqa: E402

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from rise_agents.envs.sim.layout import ARMS, SceneLayout  # noqa: E402
from rise_agents.envs.sim.mjcf import CONTROL_HZ, PHYSICS_SUBSTEPS, build_mjcf  # noqa: E402
from rise_agents.envs.sim.rendering import MultiViewRenderer  # noqa: E402
from rise_agents.envs.sim.task import BrickSortingConfig, BrickSortingTask  # noqa: E402
from rise_agents.envs.sim.twin import TwinArms  # noqa: E402
from rise_env.spec import (  # noqa: E402
    CAMERA_KEYS,
    STATE_KEY,
    action_chunk_space,
    agilex_cobot_magic,
    observation_space,
    validate_action_chunk,
)
from rise_env.utils.video import tile_views  # noqa: E402


class BrickSortingSimEnv(gym.Env):
    """MuJoCo twin running Dynamic Brick Sorting with chunked absolute joint control.

    Args:
        render_mode: None or "rgb_array" (``render()`` tiles the three views side by side).
        chunk_size: H, control steps per ``step`` call.
        height, width: resolution of every camera.
        num_bricks, time_limit_s, conveyor_speed, spawn_interval_s: task parameters.
        info_frame_hz: rate of the frames returned in ``info["frames"]``; must divide 30.
        clip_actions: clip out-of-limit actions (counted in ``info["n_clipped"]``) instead of raising.
        render_cameras: if False, camera images are all zeros (fast, for scripted benchmarks).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(
        self,
        render_mode: str | None = None,
        chunk_size: int = 50,
        height: int = 192,
        width: int = 256,
        num_bricks: int = 4,
        time_limit_s: float = 30.0,
        conveyor_speed: float = 0.06,
        spawn_interval_s: float = 3.0,
        info_frame_hz: int = 15,
        clip_actions: bool = False,
        render_cameras: bool = True,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int (control steps per chunk), got {chunk_size!r}")
        if info_frame_hz not in {hz for hz in range(1, CONTROL_HZ + 1) if CONTROL_HZ % hz == 0}:
            raise ValueError(
                f"info_frame_hz must divide the {CONTROL_HZ} Hz control rate (e.g. 15 or 30), got {info_frame_hz}"
            )
        self.render_mode = render_mode
        self.chunk_size = chunk_size
        self.height, self.width = int(height), int(width)
        self.info_frame_hz = int(info_frame_hz)
        self.frame_every = CONTROL_HZ // self.info_frame_hz
        self.clip_actions = bool(clip_actions)
        self.render_cameras = bool(render_cameras)
        self.config = BrickSortingConfig(
            num_bricks=num_bricks,
            time_limit_s=time_limit_s,
            conveyor_speed=conveyor_speed,
            spawn_interval_s=spawn_interval_s,
        )
        self.robot = agilex_cobot_magic(self.height, self.width)
        self.observation_space = observation_space(self.robot)
        self.action_space = action_chunk_space(self.robot, chunk_size)
        self.action_low, self.action_high = self.robot.action_limits()
        self.layout = SceneLayout()
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(self.layout, num_bricks))
        self.data = mujoco.MjData(self.model)
        self.task = BrickSortingTask(self.model, self.layout, self.config)
        self.arms = TwinArms(self.model, self.layout)
        self.max_steps = int(round(time_limit_s * CONTROL_HZ))
        self._renderer = MultiViewRenderer(self.model, CAMERA_KEYS)
        self.control_step = 0
        self._needs_reset = True
        self._ended = False

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self.arms.set_home(self.data)
        self.control_step = 0
        events = self.task.reset(self.data, self.np_random)
        mujoco.mj_forward(self.model, self.data)
        self._needs_reset, self._ended = False, False
        obs = self._observation(self._views())
        return obs, {"score": 0.0, "success": False, "events": events, "sim_time": self.sim_time}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        """Run the chunk ``(H, 14)``; see the module docstring for the returned values."""
        if self._needs_reset:
            raise gym.error.ResetNeeded("BrickSortingSimEnv.step() called before reset(); call env.reset() first")
        if self._ended:
            raise gym.error.ResetNeeded("the episode has ended (terminated or truncated); call env.reset() first")
        actions, n_clipped = validate_action_chunk(
            action, self.action_low, self.action_high, self.chunk_size, clip=self.clip_actions
        )
        frames, frame_states, frame_steps, events = [], [], [], []
        reward = 0.0
        executed = 0
        views = None
        for k in range(self.chunk_size):
            events += self.task.before_step(self.data, self.control_step)
            self.arms.apply(self.data, actions[k])
            mujoco.mj_step(self.model, self.data, nstep=PHYSICS_SUBSTEPS)
            self.control_step += 1
            executed += 1
            points, step_events = self.task.after_step(self.data, self.control_step)
            reward += points
            events += step_events
            done = self.task.success or self.control_step >= self.max_steps
            views = None
            if (k + 1) % self.frame_every == 0:
                views = self._views()
                frames.append(views)
                frame_states.append(self.arms.state(self.data))
                frame_steps.append(self.control_step)
            if done:
                break
        terminated = bool(self.task.success)
        truncated = bool(not terminated and self.control_step >= self.max_steps)
        self._ended = terminated or truncated
        obs = self._observation(views.copy() if views is not None else self._views())
        n_views, h, w = len(CAMERA_KEYS), self.height, self.width
        info = {
            "frames": np.stack(frames) if frames else np.zeros((0, n_views, h, w, 3), np.uint8),
            "frame_states": np.stack(frame_states) if frame_states else np.zeros((0, 14), np.float32),
            "frame_steps": np.asarray(frame_steps, dtype=np.int64),
            "executed_actions": actions[:executed].astype(np.float32),
            "n_executed": executed,
            "ended_mid_chunk": executed < self.chunk_size,
            "score": self.task.score,
            "success": terminated,
            "events": events,
            "n_clipped": n_clipped,
            "sim_time": self.sim_time,
        }
        return obs, float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """``(h, 3w, 3)`` uint8 tile of the top, left-wrist and right-wrist views (rgb_array mode)."""
        if self.render_mode != "rgb_array":
            return None
        return tile_views(self._renderer.render(self.data, self.height, self.width))

    def close(self) -> None:
        self._renderer.close()

    # ------------------------------------------------------------------ observations
    def _views(self) -> np.ndarray:
        if not self.render_cameras:
            return np.zeros((len(CAMERA_KEYS), self.height, self.width, 3), dtype=np.uint8)
        return self._renderer.render(self.data, self.height, self.width)

    def _observation(self, views: np.ndarray) -> dict[str, np.ndarray]:
        obs = {key: views[i].copy() for i, key in enumerate(CAMERA_KEYS)}
        obs[STATE_KEY] = self.arms.state(self.data)
        return obs

    # ------------------------------------------------------------------ privileged accessors
    @property
    def sim_time(self) -> float:
        """Simulated time since reset (s); advances exactly H / 30 s per full chunk."""
        return self.control_step / CONTROL_HZ

    @property
    def belt_velocity(self) -> np.ndarray:
        """(3,) velocity (m/s) of everything resting on the belt."""
        return self.task.belt_velocity.copy()

    def brick_poses(self) -> np.ndarray:
        """(num_bricks, 7): position (m) and quaternion (w, x, y, z) of every brick."""
        return np.concatenate(
            [self.data.xpos[self.task.brick_body], self.data.xquat[self.task.brick_body]], axis=1
        ).copy()

    def brick_velocities(self) -> np.ndarray:
        """(num_bricks, 3) linear velocities (m/s)."""
        return np.stack([self.data.qvel[v : v + 3] for v in self.task.brick_qvel]).copy()

    @property
    def brick_colours(self) -> tuple[str, ...]:
        return self.task.colours

    @property
    def brick_states(self) -> tuple[str, ...]:
        return tuple(self.task.states)

    @property
    def brick_holders(self) -> tuple[str | None, ...]:
        """Arm whose fingers hold (or last held) each brick."""
        return tuple(self.task.holder)

    @property
    def spawn_steps(self) -> np.ndarray:
        return self.task.spawn_steps.copy()

    def bin_regions(self) -> list[dict]:
        return self.task.bin_regions()

    def arm_qpos(self, arm: str) -> np.ndarray:
        """(7,) measured joints (rad) and gripper opening (m) of ``arm``."""
        state = self.arms.state(self.data)
        a = ARMS.index(arm)
        return state[7 * a : 7 * a + 7].astype(np.float64)

    @property
    def home_action(self) -> np.ndarray:
        """(14,) float32 action holding both arms at their home pose."""
        return self.arms.home_action.copy()

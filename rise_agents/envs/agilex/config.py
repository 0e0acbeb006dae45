"""Configuration of the real AgileX dual-arm rig (pydantic; every field documented).

Limits default to the hardware values of ``rise_env.spec``; a config may tighten them, never
widen them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rise_env.spec import ARM_JOINT_LIMITS, CAMERA_KEYS, GRIPPER_LIMITS, RobotSpec, agilex_cobot_magic

BlendMode = Literal["linear", "temporal_ensemble", "none"]


class ArmConfig(BaseModel):
    """One Piper arm on its own CAN interface."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal["left", "right"] = Field(description="Which arm: 'left' or 'right' (order in the 14-dim action).")
    can_interface: str = Field(description="CAN interface (channel) name of this arm, e.g. 'can_left'.")
    bustype: str = Field(
        "socketcan", description="python-can interface type: 'socketcan' on the robot, 'virtual' in tests."
    )
    check_interface: bool = Field(
        True, description="On socketcan, check that the interface is up at 1 Mbit/s before connecting."
    )
    move_speed_percent: int = Field(
        100, ge=1, le=100, description="Firmware speed rate of MOVE J sent with every command (0x151), percent."
    )
    gripper_effort: int = Field(
        1000, ge=0, le=5000, description="Gripper force limit sent with every gripper command, 0.001 N·m."
    )
    gripper_scale: float = Field(
        1.0, gt=0, description="Firmware gripper units per metre of opening ÷ 1e6 (calibrate per rig; 1 or 2)."
    )


class CameraConfig(BaseModel):
    """One RGB camera: where its frames come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Observation key: 'top', 'left_wrist' or 'right_wrist'.")
    kind: Literal["opencv", "realsense", "fake"] = Field(
        "opencv", description="Backend: OpenCV (UVC index/path), pyrealsense2, or a synthetic FakeCamera."
    )
    source: int | str | None = Field(
        None, description="OpenCV device index or path (/dev/v4l/by-id/...), or a RealSense serial number."
    )
    capture_fps: int = Field(30, gt=0, description="Frame rate requested from the device (Hz).")
    capture_width: int | None = Field(None, description="Capture width requested from the device (px).")
    capture_height: int | None = Field(None, description="Capture height requested from the device (px).")


def _default_arms() -> tuple[ArmConfig, ArmConfig]:
    return (ArmConfig(name="left", can_interface="can_left"), ArmConfig(name="right", can_interface="can_right"))


def _default_cameras() -> tuple[CameraConfig, ...]:
    return tuple(CameraConfig(name=k, source=i) for i, k in enumerate(CAMERA_KEYS))


class AgileXConfig(BaseModel):
    """The dual-arm rig: arms, cameras, control rate, chunk execution and safety."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    arms: tuple[ArmConfig, ArmConfig] = Field(
        default_factory=_default_arms, description="Left then right arm, one CAN interface each."
    )
    cameras: tuple[CameraConfig, ...] = Field(
        default_factory=_default_cameras, description="Cameras in observation order: top, left wrist, right wrist."
    )
    image_height: int = Field(192, gt=0, description="Observation image height after resizing (px).")
    image_width: int = Field(256, gt=0, description="Observation image width after resizing (px).")
    control_hz: int = Field(30, gt=0, description="Control rate of the executor (Hz).")
    chunk_horizon: int = Field(50, gt=0, description="Steps per action chunk H taken by step().")
    frame_hz: float = Field(15.0, gt=0, description="Rate at which a chunk's frames are sampled into info (Hz).")
    joint_limits: tuple[tuple[float, float], ...] = Field(
        ARM_JOINT_LIMITS, description="Per-arm joint limits j1..j6 (rad); within the hardware limits."
    )
    gripper_limits: tuple[float, float] = Field(GRIPPER_LIMITS, description="Gripper opening range (m).")
    max_joint_speed: float = Field(1.5, gt=0, description="Maximum joint speed of any command (rad/s).")
    max_gripper_speed: float = Field(0.2, gt=0, description="Maximum gripper opening speed of any command (m/s).")
    blending: BlendMode = Field(
        "linear",
        description="How a new chunk joins the unexecuted plan: linear cross-fade over the overlap (paper X-B), "
        "ACT temporal ensembling, or plain replacement.",
    )
    ensemble_k: float = Field(0.01, description="Temporal-ensembling weight exp(-k*i), i = 0 the oldest chunk.")
    clip_actions: bool = Field(
        False, description="Clip out-of-limit chunk values instead of refusing the chunk."
    )
    feedback_timeout_s: float = Field(
        0.05, gt=0, description="Watchdog: max age of joint/gripper feedback before a safe stop (s)."
    )
    command_timeout_s: float | None = Field(
        30.0, description="Watchdog: max time without a new chunk before a safe stop (s); None = never."
    )
    hold_before_disable_s: float = Field(
        0.5, ge=0, description="After a fault, hold the current position this long, then disable the arms (s)."
    )
    camera_timeout_s: float = Field(0.5, gt=0, description="Max age of a camera's latest frame (s).")
    enable_timeout_s: float = Field(5.0, gt=0, description="Time allowed for all joint drivers to report enabled (s).")
    home_pose: tuple[float, ...] | None = Field(
        None, description="14 absolute targets reached (speed-limited) on reset(); None = stay where the arms are."
    )
    home_duration_s: float = Field(3.0, gt=0, description="Duration of the move to home_pose on reset() (s).")
    disable_on_close: bool = Field(True, description="Disable the arms when the env is closed.")
    max_chunks: int | None = Field(None, description="Truncate the episode after this many chunks; None = never.")
    gil_switch_interval_s: float | None = Field(
        0.001,
        description="Python thread switch interval set while the executor runs (process-wide; the default "
        "5 ms lets busy threads delay a tick by up to that); None leaves it alone.",
    )
    realtime_priority: int | None = Field(
        None, ge=1, le=99,
        description="Linux SCHED_FIFO priority of the control thread (needs root or CAP_SYS_NICE; a warning "
        "if refused); None = normal scheduling.",
    )
    spin_s: float = Field(
        0.002, ge=0, description="Busy-wait this long before each tick deadline for timing precision (s)."
    )

    @field_validator("joint_limits")
    @classmethod
    def _joint_limits_within_hardware(cls, v: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        if len(v) != len(ARM_JOINT_LIMITS):
            raise ValueError(f"joint_limits needs {len(ARM_JOINT_LIMITS)} (low, high) pairs, got {len(v)}")
        for i, ((lo, hi), (hw_lo, hw_hi)) in enumerate(zip(v, ARM_JOINT_LIMITS)):
            if not (hw_lo <= lo < hi <= hw_hi):
                raise ValueError(
                    f"joint_limits[{i}] = ({lo}, {hi}) must satisfy {hw_lo} <= low < high <= {hw_hi} (hardware)"
                )
        return v

    @field_validator("gripper_limits")
    @classmethod
    def _gripper_within_hardware(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not (GRIPPER_LIMITS[0] <= lo < hi <= GRIPPER_LIMITS[1]):
            raise ValueError(f"gripper_limits = {v} must lie within the hardware stroke {GRIPPER_LIMITS} (m)")
        return v

    @model_validator(mode="after")
    def _check(self) -> AgileXConfig:
        if [a.name for a in self.arms] != ["left", "right"]:
            raise ValueError(f"arms must be (left, right), got {[a.name for a in self.arms]}")
        if self.arms[0].can_interface == self.arms[1].can_interface:
            raise ValueError(f"each arm needs its own CAN interface, both are '{self.arms[0].can_interface}'")
        names = tuple(c.name for c in self.cameras)
        if names != CAMERA_KEYS:
            raise ValueError(f"cameras must be named {CAMERA_KEYS} in that order, got {names}")
        if self.frame_hz > self.control_hz:
            raise ValueError(f"frame_hz ({self.frame_hz}) cannot exceed control_hz ({self.control_hz})")
        if self.home_pose is not None:
            low, high = self.action_limits()
            pose = np.asarray(self.home_pose, dtype=np.float64)
            if pose.shape != low.shape or np.any(pose < low) or np.any(pose > high):
                raise ValueError(f"home_pose must be 14 values within the action limits, got {self.home_pose}")
        return self

    def robot_spec(self) -> RobotSpec:
        """The shared robot spec at this config's resolution, rate and limits."""
        spec = agilex_cobot_magic(self.image_height, self.image_width)
        return spec.model_copy(
            update={"control_hz": self.control_hz, "joint_limits": self.joint_limits,
                    "gripper_limits": self.gripper_limits}
        )

    def action_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension lower/upper limits, each (14,) float64."""
        low, high = self.robot_spec().action_limits()
        return low.astype(np.float64), high.astype(np.float64)

    def max_step(self) -> np.ndarray:
        """Largest allowed change of each of the 14 commands per control tick, (14,) float64."""
        per_arm = [self.max_joint_speed] * len(self.joint_limits) + [self.max_gripper_speed]
        return np.array(per_arm * 2, dtype=np.float64) / self.control_hz

    @property
    def frame_stride(self) -> int:
        """Control ticks between two sampled frames (2 at 30 Hz control, 15 Hz frames)."""
        return max(1, round(self.control_hz / self.frame_hz))


def sim_config(prefix: str = "vcan_rise", **overrides: object) -> AgileXConfig:
    """A config for the simulated firmware on python-can's virtual bus, with fake cameras."""
    arms = (
        ArmConfig(name="left", can_interface=f"{prefix}_left", bustype="virtual", check_interface=False),
        ArmConfig(name="right", can_interface=f"{prefix}_right", bustype="virtual", check_interface=False),
    )
    cams = tuple(CameraConfig(name=k, kind="fake") for k in CAMERA_KEYS)
    fields: dict[str, object] = {"arms": arms, "cameras": cams}
    fields.update(overrides)
    return AgileXConfig(**fields)

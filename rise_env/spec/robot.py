"""The robot every RISE environment speaks for: two 6-DoF AgileX Piper arms with parallel grippers.

Action and state layout (14 values, absolute joint positions in rad, gripper opening in m)::

    [left_j1 .. left_j6, left_gripper, right_j1 .. right_j6, right_gripper]

Joint limits are the hardware limits of piper_sdk 0.6.2; the gripper stroke is 0-0.07 m.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# Hardware joint limits of one Piper arm (rad), j1..j6.
ARM_JOINT_LIMITS: tuple[tuple[float, float], ...] = (
    (-2.618, 2.618),
    (0.0, 3.14),
    (-2.967, 0.0),
    (-1.745, 1.745),
    (-1.22, 1.22),
    (-2.094, 2.094),
)
# Parallel-gripper opening (m).
GRIPPER_LIMITS: tuple[float, float] = (0.0, 0.07)

CAMERA_KEYS: tuple[str, ...] = ("top", "left_wrist", "right_wrist")
STATE_KEY = "state"
ARMS: tuple[str, ...] = ("left", "right")


class CameraSpec(BaseModel):
    """One RGB camera of the rig."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Observation key of the camera, e.g. 'top'.")
    height: int = Field(192, gt=0, description="Image height in pixels.")
    width: int = Field(256, gt=0, description="Image width in pixels.")


class RobotSpec(BaseModel):
    """Dual-arm robot: cameras, control rate and per-dimension action limits."""

    model_config = ConfigDict(frozen=True)

    name: str = Field("agilex_cobot_magic", description="robot_type written into datasets.")
    control_hz: int = Field(30, gt=0, description="Control rate of absolute joint commands (Hz).")
    cameras: tuple[CameraSpec, ...] = Field(
        default=tuple(CameraSpec(name=k) for k in CAMERA_KEYS),
        description="Cameras in observation order: top, left wrist, right wrist.",
    )
    joint_limits: tuple[tuple[float, float], ...] = Field(
        ARM_JOINT_LIMITS, description="Per-arm joint limits (rad), j1..j6."
    )
    gripper_limits: tuple[float, float] = Field(GRIPPER_LIMITS, description="Gripper opening range (m).")

    @property
    def action_dim(self) -> int:
        """14 for two arms of 6 joints + 1 gripper."""
        return len(ARMS) * (len(self.joint_limits) + 1)

    @property
    def camera_keys(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    @property
    def joint_names(self) -> list[str]:
        """Names of the 14 action/state dimensions, e.g. 'left_joint1', 'left_gripper'."""
        names = []
        for arm in ARMS:
            names += [f"{arm}_joint{i + 1}" for i in range(len(self.joint_limits))] + [f"{arm}_gripper"]
        return names

    def action_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper limits, each shape (14,) float32."""
        per_arm = list(self.joint_limits) + [self.gripper_limits]
        bounds = np.array(per_arm * len(ARMS), dtype=np.float32)
        return bounds[:, 0].copy(), bounds[:, 1].copy()

    def with_resolution(self, height: int, width: int) -> RobotSpec:
        """Same robot, every camera at (height, width)."""
        cams = tuple(CameraSpec(name=c.name, height=height, width=width) for c in self.cameras)
        return self.model_copy(update={"cameras": cams})


def agilex_cobot_magic(height: int = 192, width: int = 256) -> RobotSpec:
    """The paper's rig: top camera + two wrist cameras at 192x256, 30 Hz."""
    return RobotSpec().with_resolution(height, width)

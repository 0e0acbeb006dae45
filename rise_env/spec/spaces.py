"""Gymnasium spaces of the shared env interface (imagined, simulated and real)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rise_env.spec.robot import STATE_KEY, RobotSpec


def observation_space(robot: RobotSpec) -> spaces.Dict:
    """Flat Dict: one ``(H, W, 3)`` uint8 Box per camera plus ``state`` ``(14,)`` float32 in the limits."""
    low, high = robot.action_limits()
    entries = {
        cam.name: spaces.Box(0, 255, (cam.height, cam.width, 3), np.uint8) for cam in robot.cameras
    }
    entries[STATE_KEY] = spaces.Box(low, high, (robot.action_dim,), np.float32)
    return spaces.Dict(entries)


def action_chunk_space(robot: RobotSpec, horizon: int, normalized: bool = False) -> spaces.Box:
    """Box of shape ``(horizon, 14)``: absolute joint targets, or their [-1, 1] image if ``normalized``."""
    if horizon <= 0:
        raise ValueError(f"horizon must be a positive number of control steps, got {horizon}")
    if normalized:
        return spaces.Box(-1.0, 1.0, (horizon, robot.action_dim), np.float32)
    low, high = robot.action_limits()
    return spaces.Box(
        np.tile(low, (horizon, 1)), np.tile(high, (horizon, 1)), (horizon, robot.action_dim), np.float32
    )

"""Robot and task specifications shared by imagined, simulated and real environments."""

from rise_env.spec.chunks import ActionChunkError, validate_action_chunk
from rise_env.spec.robot import (
    ARM_JOINT_LIMITS,
    CAMERA_KEYS,
    GRIPPER_LIMITS,
    STATE_KEY,
    CameraSpec,
    RobotSpec,
    agilex_cobot_magic,
)
from rise_env.spec.spaces import action_chunk_space, observation_space

__all__ = [
    "ARM_JOINT_LIMITS",
    "CAMERA_KEYS",
    "GRIPPER_LIMITS",
    "STATE_KEY",
    "ActionChunkError",
    "CameraSpec",
    "RobotSpec",
    "action_chunk_space",
    "agilex_cobot_magic",
    "observation_space",
    "validate_action_chunk",
]

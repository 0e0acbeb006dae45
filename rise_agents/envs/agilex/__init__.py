"""The real AgileX dual-arm rig (two Piper arms over CAN + three RGB cameras) as a chunked Gymnasium env.

Also a simulated Piper firmware (python-can virtual bus) and fake cameras, so everything runs
and is tested without hardware.
"""

from rise_agents.envs.agilex.async_runner import AsyncChunkRunner
from rise_agents.envs.agilex.cameras import Camera, FakeCamera, OpenCVCamera, RealSenseCamera, frame_counter
from rise_agents.envs.agilex.config import AgileXConfig, ArmConfig, CameraConfig, sim_config
from rise_agents.envs.agilex.env import AgileXEnv
from rise_agents.envs.agilex.errors import (
    AgileXError,
    AgileXFault,
    ArmEnableError,
    ArmFaultError,
    CameraLostError,
    CanBusError,
    CommandTimeoutError,
    EmergencyStopError,
    FeedbackLostError,
)
from rise_agents.envs.agilex.recorder import EpisodeRecorder
from rise_agents.envs.agilex.safety import SafetyFilter, install_sigint_handler
from rise_agents.envs.agilex.sim_firmware import BusSpy, SimulatedPiperFirmware
from rise_agents.envs.agilex.sim_rig import AgileXSimEnv, SimRig
from rise_agents.execution.blending import (
    linear_blend,
    linear_blend_weights,
    make_planner,
    temporal_ensemble,
)

__all__ = [
    "AgileXConfig",
    "AgileXEnv",
    "AgileXError",
    "AgileXSimEnv",
    "AgileXFault",
    "ArmConfig",
    "ArmEnableError",
    "ArmFaultError",
    "AsyncChunkRunner",
    "BusSpy",
    "Camera",
    "CameraConfig",
    "CameraLostError",
    "CanBusError",
    "CommandTimeoutError",
    "EmergencyStopError",
    "EpisodeRecorder",
    "FakeCamera",
    "FeedbackLostError",
    "OpenCVCamera",
    "RealSenseCamera",
    "SafetyFilter",
    "SimRig",
    "SimulatedPiperFirmware",
    "frame_counter",
    "install_sigint_handler",
    "linear_blend",
    "linear_blend_weights",
    "make_planner",
    "sim_config",
    "temporal_ensemble",
]

"""An ``AgileXEnv`` wired to two simulated Piper firmwares on python-can virtual buses + fake cameras.

Runs anywhere (no CAN hardware, no cameras)::

    with SimRig() as rig:
        obs, info = rig.env.reset()
        rig.env.step(np.tile(obs["state"], (50, 1)))
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import numpy as np

from rise_agents.envs.agilex.config import AgileXConfig, sim_config
from rise_agents.envs.agilex.env import AgileXEnv
from rise_agents.envs.agilex.sim_firmware import SimulatedPiperFirmware

# A rest pose inside every joint limit (j2 >= 0, j3 <= 0), grippers half open.
SIM_REST_ARM = (0.0, 0.6, -0.6, 0.0, 0.3, 0.0)
SIM_REST_GRIPPER = 0.035
_counter = itertools.count()


def unique_prefix(tag: str = "rise") -> str:
    """A CAN channel prefix unique within this process (virtual buses and SDK singletons are per name)."""
    return f"vcan_{tag}_{os.getpid()}_{next(_counter)}"


class SimRig:
    """Two ``SimulatedPiperFirmware`` (left, right) and an ``AgileXEnv`` talking to them.

    Args:
        prefix: channel prefix; unique by default.
        feedback_hz: firmware feedback rate (Hz).
        tau: firmware first-order time constant (s).
        env_kwargs: extra keyword arguments for ``AgileXEnv`` (scorer, recorder, cameras).
        **overrides: ``AgileXConfig`` fields.
    """

    def __init__(
        self, prefix: str | None = None, feedback_hz: float = 200.0, tau: float = 0.05,
        env_kwargs: dict[str, Any] | None = None, **overrides: Any,
    ) -> None:
        self.prefix = prefix or unique_prefix()
        self.config: AgileXConfig = sim_config(self.prefix, **overrides)
        self.firmwares = [
            SimulatedPiperFirmware(
                arm.can_interface, "virtual", feedback_hz, tau=tau, initial_joints=SIM_REST_ARM,
                initial_gripper=SIM_REST_GRIPPER,
            )
            for arm in self.config.arms
        ]
        for fw in self.firmwares:
            fw.start()
        self.env = AgileXEnv(self.config, **(env_kwargs or {}))

    @property
    def left(self) -> SimulatedPiperFirmware:
        return self.firmwares[0]

    @property
    def right(self) -> SimulatedPiperFirmware:
        return self.firmwares[1]

    def rest_pose(self) -> np.ndarray:
        """(14,) the pose the simulated arms start in."""
        arm = list(SIM_REST_ARM) + [SIM_REST_GRIPPER]
        return np.array(arm * 2, dtype=np.float64)

    def close(self) -> None:
        """Close the env first (its SDK reader threads wake on firmware frames), then the firmwares."""
        try:
            self.env.close()
        finally:
            for fw in self.firmwares:
                fw.stop()

    def __enter__(self) -> SimRig:
        self.env.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

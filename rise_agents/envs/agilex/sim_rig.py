"""An ``AgileXEnv`` wired to two simulated Piper firmwares on python-can virtual buses + fake cameras.

Runs anywhere (no CAN hardware, no cameras); ``AgileXSimEnv`` is the env alone (what a Gymnasium
id would point at), ``SimRig`` adds handles on the firmwares for fault injection::

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


class AgileXSimEnv(AgileXEnv):
    """``AgileXEnv`` that owns two simulated firmwares (started here, stopped by ``close()``).

    Args:
        prefix: CAN channel prefix; unique by default.
        feedback_hz: firmware feedback rate (Hz).
        tau: firmware first-order time constant (s).
        scorer, cameras, recorder, render_mode: as for ``AgileXEnv``.
        **overrides: ``AgileXConfig`` fields (e.g. ``chunk_horizon=10``).
    """

    def __init__(
        self, prefix: str | None = None, feedback_hz: float = 200.0, tau: float = 0.05,
        scorer: Any = None, cameras: Any = None, recorder: Any = None, render_mode: str | None = "rgb_array",
        **overrides: Any,
    ) -> None:
        self.prefix = prefix or unique_prefix()
        config: AgileXConfig = sim_config(self.prefix, **overrides)
        self.firmwares = [
            SimulatedPiperFirmware(
                arm.can_interface, "virtual", feedback_hz, tau=tau, initial_joints=SIM_REST_ARM,
                initial_gripper=SIM_REST_GRIPPER,
            )
            for arm in config.arms
        ]
        for fw in self.firmwares:
            fw.start()
        super().__init__(config, scorer=scorer, cameras=cameras, recorder=recorder, render_mode=render_mode)

    def close(self) -> None:
        """Close the env first (its SDK reader threads wake on firmware frames), then the firmwares."""
        try:
            super().close()
        finally:
            for fw in self.firmwares:
                fw.stop()


class SimRig:
    """An ``AgileXSimEnv`` plus handles on its two firmwares, for tests and scripts.

    Args:
        prefix, feedback_hz, tau: see ``AgileXSimEnv``.
        env_kwargs: extra keyword arguments for the env (scorer, recorder, cameras).
        **overrides: ``AgileXConfig`` fields.
    """

    def __init__(
        self, prefix: str | None = None, feedback_hz: float = 200.0, tau: float = 0.05,
        env_kwargs: dict[str, Any] | None = None, **overrides: Any,
    ) -> None:
        self.env = AgileXSimEnv(prefix, feedback_hz, tau, **(env_kwargs or {}), **overrides)
        self.prefix = self.env.prefix
        self.config = self.env.config
        self.firmwares = self.env.firmwares

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
        self.env.close()

    def __enter__(self) -> SimRig:
        self.env.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

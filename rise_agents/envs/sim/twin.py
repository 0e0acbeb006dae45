"""Mapping between the 14-D action/state layout of ``rise_env.spec`` and the twin's actuators.

Layout: ``[left j1..j6, left gripper, right j1..j6, right gripper]``; joints in rad, gripper as
the opening width in m (each finger travels half of it).
"""

from __future__ import annotations

import mujoco
import numpy as np

from rise_agents.envs.sim.kinematics import ArmKinematics
from rise_agents.envs.sim.layout import ARMS, SceneLayout
from rise_env.spec import ARM_JOINT_LIMITS, GRIPPER_LIMITS

HOME_GRIPPER = 0.06  # opening (m) at reset


class TwinArms:
    """Writes actions into ``data.ctrl`` and reads the measured 14-D state."""

    def __init__(self, model: mujoco.MjModel, layout: SceneLayout) -> None:
        self.model = model
        self.ctrl_idx = np.array(
            [model.actuator(f"{arm}_joint{j + 1}").id for arm in ARMS for j in range(6)]
            + [model.actuator(f"{arm}_gripper").id for arm in ARMS]
        )
        self.joint_qpos = np.array(
            [model.jnt_qposadr[model.joint(f"{arm}_joint{j + 1}").id] for arm in ARMS for j in range(6)]
        )
        self.finger_qpos = np.array(
            [[model.jnt_qposadr[model.joint(f"{arm}_finger{f}").id] for f in (1, 2)] for arm in ARMS]
        )
        per_arm = list(ARM_JOINT_LIMITS) + [GRIPPER_LIMITS]
        bounds = np.array(per_arm * len(ARMS), dtype=np.float32)
        self.low, self.high = bounds[:, 0], bounds[:, 1]
        # Home: grippers 0.2 m above the table in front of each arm base, pointing down.
        home = []
        for arm in ARMS:
            bx, by, _ = layout.arm_base(arm)
            ik = ArmKinematics(model, arm).solve_top_down(
                np.array([bx + 0.20, by, 0.20]), 0.0, np.array([0.0, 1.3, -1.4, 0.0, -1.0, 0.0])
            )
            home.append(np.concatenate([ik.q, [HOME_GRIPPER]]))
        self.home_action = np.concatenate(home).astype(np.float32)

    @staticmethod
    def _split(action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(14,) -> joints (12,) in arm order and grippers (2,)."""
        return np.concatenate([action[0:6], action[7:13]]), action[[6, 13]]

    def apply(self, data: mujoco.MjData, action: np.ndarray) -> None:
        """Set actuator targets from one 14-D action."""
        joints, grippers = self._split(action)
        data.ctrl[self.ctrl_idx[:12]] = joints
        data.ctrl[self.ctrl_idx[12:]] = grippers / 2.0

    def set_home(self, data: mujoco.MjData) -> None:
        """Put both arms at rest at the home pose (qpos and ctrl)."""
        joints, grippers = self._split(self.home_action.astype(np.float64))
        data.qpos[self.joint_qpos] = joints
        data.qpos[self.finger_qpos] = (grippers / 2.0)[:, None]
        data.qvel[:] = 0.0
        self.apply(data, self.home_action.astype(np.float64))

    def state(self, data: mujoco.MjData) -> np.ndarray:
        """Measured (14,) float32 state, clipped to the hardware range like the SDK reports."""
        joints = data.qpos[self.joint_qpos]
        opening = data.qpos[self.finger_qpos].sum(axis=1)
        state = np.concatenate([joints[:6], opening[:1], joints[6:], opening[1:]]).astype(np.float32)
        return np.clip(state, self.low, self.high)

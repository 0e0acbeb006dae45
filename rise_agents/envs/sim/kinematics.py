"""Forward and inverse kinematics of one twin arm on MuJoCo Jacobians.

The IK is damped least squares on the 6-D pose error of the arm's grasp site
(``mj_jacSite``), iterated on a private scratch ``MjData`` so the simulation is never touched.
Targets are top-down grasp frames: the tool axis (site x) points straight down and the
finger closing axis (site y) is horizontal at a chosen yaw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from rise_agents.envs.sim.portable_math import damped_least_squares, mat_vec, norm
from rise_env.spec import ARM_JOINT_LIMITS

JOINT_LOW = np.array([lo for lo, _ in ARM_JOINT_LIMITS])
JOINT_HIGH = np.array([hi for _, hi in ARM_JOINT_LIMITS])


def top_down_frame(closing_yaw: float) -> np.ndarray:
    """Rotation (3, 3) whose columns are the site axes: x down, y at ``closing_yaw``, z = x cross y."""
    x = np.array([0.0, 0.0, -1.0])
    y = np.array([math.cos(closing_yaw), math.sin(closing_yaw), 0.0])
    return np.stack([x, y, np.cross(x, y)], axis=1)


def rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Axis-angle vector (3,) rotating ``current`` onto ``target`` (both (3, 3), world frame)."""
    quat_t = np.empty(4)
    quat_c = np.empty(4)
    mujoco.mju_mat2Quat(quat_t, target.reshape(-1))
    mujoco.mju_mat2Quat(quat_c, current.reshape(-1))
    err = np.empty(3)
    mujoco.mju_subQuat(err, quat_t, quat_c)  # in the current frame
    return mat_vec(current, err)


@dataclass
class IKResult:
    """Solution of one IK query: joints (6,), position error (m), rotation error (rad)."""

    q: np.ndarray
    pos_error: float
    rot_error: float

    @property
    def ok(self) -> bool:
        return self.pos_error < 2e-3 and self.rot_error < 2e-2


class ArmKinematics:
    """Kinematics of one arm ('left' | 'right') of a twin model."""

    def __init__(self, model: mujoco.MjModel, arm: str) -> None:
        self.model = model
        self.arm = arm
        self.data = mujoco.MjData(model)
        joint_ids = [model.joint(f"{arm}_joint{j + 1}").id for j in range(6)]
        self.qpos_adr = np.array([model.jnt_qposadr[j] for j in joint_ids])
        self.dof_adr = np.array([model.jnt_dofadr[j] for j in joint_ids])
        self.site_id = model.site(f"{arm}_grasp").id
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grasp-site position (3,) and rotation (3, 3) for arm joints ``q`` (6,)."""
        self.data.qpos[self.qpos_adr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site_id].copy(), self.data.site_xmat[self.site_id].reshape(3, 3).copy()

    def solve(
        self,
        target_pos: np.ndarray,
        target_rot: np.ndarray,
        q_init: np.ndarray,
        iters: int = 60,
        damping: float = 0.02,
        rot_weight: float = 0.3,
    ) -> IKResult:
        """Damped least-squares IK from ``q_init`` (6,) to a site pose; joints stay in the limits."""
        q = np.clip(np.asarray(q_init, dtype=np.float64), JOINT_LOW, JOINT_HIGH)
        weights = np.array([1.0, 1.0, 1.0, rot_weight, rot_weight, rot_weight])
        pos_err = rot_err = np.inf
        for _ in range(iters):
            pos, rot = self.forward(q)
            e_pos = target_pos - pos
            e_rot = rotation_error(target_rot, rot)
            pos_err, rot_err = norm(e_pos), norm(e_rot)
            if pos_err < 2e-4 and rot_err < 2e-3:
                break
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site_id)
            jac = np.vstack([self._jacp[:, self.dof_adr], self._jacr[:, self.dof_adr]]) * weights[:, None]
            err = np.concatenate([e_pos, e_rot]) * weights
            step = damped_least_squares(jac, err, damping)
            scale = max(1.0, float(np.abs(step).max()) / 0.4)  # at most 0.4 rad per iteration
            q = np.clip(q + step / scale, JOINT_LOW, JOINT_HIGH)
        return IKResult(q=q, pos_error=pos_err, rot_error=rot_err)

    def solve_top_down(
        self, target_pos: np.ndarray, closing_yaw: float, q_init: np.ndarray, iters: int = 60
    ) -> IKResult:
        """IK to a top-down grasp at ``target_pos``; the yaw is used modulo pi (either finger order).

        Of the two equivalent yaws, the one needing the smaller flange roll (j6) is chosen.
        """
        best: IKResult | None = None
        for yaw in (closing_yaw, closing_yaw + np.pi):
            res = self.solve(target_pos, top_down_frame(yaw), q_init, iters=iters)
            if best is None or _score(res) < _score(best):
                best = res
        assert best is not None
        return best


def _score(res: IKResult) -> float:
    return res.pos_error + 0.1 * res.rot_error + 1e-3 * abs(res.q[5]) + (0.0 if res.ok else 1.0)

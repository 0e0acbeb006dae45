"""Time-parameterised arm plans: min-jerk joint moves and Cartesian tracking segments.

A plan is a list of segments on the simulation clock. ``joint`` segments interpolate 7-D
targets (6 joints + gripper opening) with a min-jerk profile; ``track`` segments follow a
moving Cartesian point (a brick on the belt) with a top-down gripper, solved by IK every
control step, while the height offset and the gripper opening follow min-jerk profiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rise_agents.envs.sim.kinematics import ArmKinematics, top_down_frame


def min_jerk(s: float | np.ndarray) -> float | np.ndarray:
    """Min-jerk phase 10 s^3 - 15 s^4 + 6 s^5 of a normalised time ``s`` (clipped to [0, 1])."""
    s = np.clip(s, 0.0, 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)  # products, not pow(): the same bits on every CPU


def move_duration(q0: np.ndarray, q1: np.ndarray, peak_speed: float = 2.0, minimum: float = 0.5) -> float:
    """Duration (s) of a min-jerk joint move whose fastest joint peaks at ``peak_speed`` rad/s."""
    delta = float(np.max(np.abs(np.asarray(q1)[:6] - np.asarray(q0)[:6])))
    return max(minimum, 1.875 * delta / peak_speed)


@dataclass
class Segment:
    """One piece of an arm plan, active on ``[t0, t1)`` (s of simulated time).

    ``joint``: ``q0 -> q1`` (7,) min-jerk. ``track``: site target ``origin + velocity (t - t0)``
    plus a vertical offset ``dz0 -> dz1`` (min-jerk over the segment), closing axis at ``yaw``,
    gripper ``grip0 -> grip1`` over the first ``grip_time`` s.
    """

    kind: str
    label: str
    t0: float
    t1: float
    q0: np.ndarray | None = None
    q1: np.ndarray | None = None
    origin: np.ndarray | None = None
    velocity: np.ndarray | None = None
    dz0: float = 0.0
    dz1: float = 0.0
    yaw: float = 0.0
    grip0: float = 0.0
    grip1: float = 0.0
    grip_time: float = 0.0
    brick: int | None = None
    intervention: bool = False

    def site_target(self, t: float) -> np.ndarray:
        """(3,) Cartesian target of a ``track`` segment at time ``t``."""
        assert self.origin is not None and self.velocity is not None
        span = max(self.t1 - self.t0, 1e-9)
        dz = self.dz0 + (self.dz1 - self.dz0) * float(min_jerk((t - self.t0) / span))
        return self.origin + self.velocity * (min(t, self.t1) - self.t0) + np.array([0.0, 0.0, dz])

    def gripper(self, t: float) -> float:
        span = max(self.grip_time, 1e-9)
        return self.grip0 + (self.grip1 - self.grip0) * float(min_jerk((t - self.t0) / span))


class PlanSampler:
    """Samples an arm's plan at control times; keeps the IK warm start between calls."""

    def __init__(self, kin: ArmKinematics) -> None:
        self.kin = kin
        self._warm: np.ndarray | None = None

    def sample(self, seg: Segment, t: float) -> np.ndarray:
        """(7,) target (joints, gripper opening) of ``seg`` at time ``t``."""
        if seg.kind == "joint":
            assert seg.q0 is not None and seg.q1 is not None
            span = max(seg.t1 - seg.t0, 1e-9)
            target = seg.q0 + (seg.q1 - seg.q0) * float(min_jerk((t - seg.t0) / span))
            self._warm = target[:6].copy()
            return target
        seed = self._warm if self._warm is not None else seg.q0[:6]
        res = self.kin.solve(seg.site_target(t), top_down_frame(seg.yaw), seed, iters=20)
        self._warm = res.q
        return np.concatenate([res.q, [seg.gripper(t)]])

    def reset(self, q: np.ndarray | None = None) -> None:
        self._warm = None if q is None else np.asarray(q[:6], dtype=np.float64).copy()

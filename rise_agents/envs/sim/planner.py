"""Pick-and-place plans of one arm: intercept a brick on the belt, drop it into a bin.

A pick is planned on the simulation clock from a start time and a start target ``q`` (7,):
wait, min-jerk approach to a hover pose above where the brick will be, descend while following
the belt, close while following it, lift, min-jerk carry to above the arm's bin, open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rise_agents.envs.sim.expert_config import ExpertConfig
from rise_agents.envs.sim.kinematics import ArmKinematics, top_down_frame
from rise_agents.envs.sim.portable_math import norm
from rise_agents.envs.sim.trajectory import PlanSampler, Segment, move_duration


@dataclass
class PickPerturbation:
    """Errors of one pick: aim offset (2,) m, arrival-time error s, yaw error rad, drop fraction."""

    offset: np.ndarray
    time_offset: float = 0.0
    yaw_offset: float = 0.0
    drop_at: float | None = None  # fraction of the carry at which the gripper opens

    def aim_error(self, belt_velocity: np.ndarray) -> np.ndarray:
        """(3,) total horizontal aim error: offset plus where the belt moves in the time error."""
        return np.array([self.offset[0], self.offset[1], 0.0]) + belt_velocity * self.time_offset

    def doomed(self, closing_yaw: float, belt_velocity: np.ndarray, brick_half: tuple[float, ...]) -> str | None:
        """Why this pick will likely fail ('aim' | 'drop'), or None."""
        err = self.aim_error(belt_velocity)
        across = abs(err[0] * math.cos(closing_yaw) + err[1] * math.sin(closing_yaw))
        along = abs(-err[0] * math.sin(closing_yaw) + err[1] * math.cos(closing_yaw))
        if across > 0.012 or along > brick_half[0] - 0.006 or abs(self.yaw_offset) > 0.35:
            return "aim"
        return "drop" if self.drop_at is not None else None


NO_PERTURBATION = PickPerturbation(offset=np.zeros(2))


class ArmPlanner:
    """Holds and extends the plan of one arm; samples its 7-D targets at control times."""

    def __init__(self, env, arm: str, config: ExpertConfig) -> None:
        self.env, self.arm, self.cfg = env, arm, config
        self.kin = ArmKinematics(env.model, arm)
        self.sampler = PlanSampler(self.kin)
        self.segments: list[Segment] = []
        self.target: int | None = None
        lay = env.layout
        self.base = np.asarray(lay.arm_base(arm))
        region = env.bin_regions()[lay.bin_of_arm(arm)]
        self.colour = region["colour"]
        sign = 1.0 if self.base[1] > 0 else -1.0
        centre = self.base[1]
        hi = min(centre + config.window_half_width, lay.spawn_y) if sign > 0 else centre + config.window_half_width
        lo = centre - config.window_half_width
        if sign > 0:
            lo = max(lo, 0.03)
        else:
            hi = min(hi, -0.03)
        self.window = (lo, hi)  # belt stretch (y range) this arm grasps in
        self.preferred_y = centre + config.preferred_ahead
        home = env.home_action[0:7] if arm == "left" else env.home_action[7:14]
        self.home = np.asarray(home, dtype=np.float64)
        bx, by = region["centre"]
        self.bin_q = self._ik(np.array([bx, by, config.release_height]), 0.0, self.home[:6])
        self.ready = self._ik(np.array([lay.belt_x, self.preferred_y, lay.belt_top + 0.13]), 0.0, self.home[:6])

    # ------------------------------------------------------------------ helpers
    def _ik(self, pos: np.ndarray, closing_yaw: float, seed: np.ndarray) -> np.ndarray:
        return self.kin.solve_top_down(pos, closing_yaw, seed).q

    @property
    def end_time(self) -> float:
        return self.segments[-1].t1 if self.segments else -np.inf

    def segment_at(self, t: float) -> Segment | None:
        for seg in self.segments:
            if seg.t0 <= t < seg.t1:
                return seg
        return None

    def sample(self, t: float) -> tuple[np.ndarray, bool]:
        """(7,) target at time ``t`` and whether it belongs to an intervention."""
        seg = self.segment_at(t)
        if seg is None:
            seg = self.segments[-1]
            t = seg.t1
        return self.sampler.sample(seg, t), seg.intervention

    def target_at(self, t: float) -> np.ndarray:
        """(7,) target at ``t`` without disturbing the sampler's warm start."""
        sampler = PlanSampler(self.kin)
        sampler.reset(self.sampler._warm)
        seg = self.segment_at(t) or self.segments[-1]
        return sampler.sample(seg, min(t, seg.t1))

    def truncate(self, t: float) -> np.ndarray:
        """Drop the plan after ``t``; returns the (7,) target at ``t`` to continue from."""
        q = self.target_at(t)
        kept = [s for s in self.segments if s.t0 < t]
        if kept:
            kept[-1].t1 = min(kept[-1].t1, t)
        self.segments = kept
        return q

    def hold(self, q: np.ndarray, t0: float, t1: float, intervention: bool = False) -> None:
        if t1 > t0:
            self.segments.append(Segment("joint", "hold", t0, t1, q0=q.copy(), q1=q.copy(), intervention=intervention))

    def move(self, q0: np.ndarray, q1: np.ndarray, t0: float, label: str, intervention: bool = False) -> float:
        t1 = t0 + move_duration(q0, q1, self.cfg.peak_joint_speed)
        self.segments.append(Segment("joint", label, t0, t1, q0=q0.copy(), q1=q1.copy(), intervention=intervention))
        return t1

    def lift_clear(self, q: np.ndarray, t0: float, intervention: bool = False) -> tuple[np.ndarray, float]:
        """If the gripper is low, add a 0.3 s straight lift (gripper open); returns (q, end time)."""
        pos, rot = self.kin.forward(q[:6])
        if pos[2] > self.env.layout.belt_top + 0.06:
            return q, t0
        yaw = math.atan2(rot[1, 1], rot[0, 1])
        seg = Segment(
            "track",
            "recover",
            t0,
            t0 + 0.3,
            q0=q.copy(),
            origin=pos,
            velocity=np.zeros(3),
            dz0=0.0,
            dz1=0.06,
            yaw=yaw,
            grip0=q[6],
            grip1=self.cfg.open_width,
            grip_time=0.2,
            intervention=intervention,
        )
        self.segments.append(seg)
        end = self.kin.solve(seg.site_target(seg.t1), top_down_frame(yaw), q[:6], iters=40).q
        return np.concatenate([end, [self.cfg.open_width]]), seg.t1

    # ------------------------------------------------------------------ picks
    def grasp_time(self, brick: int, t_start: float, q_start: np.ndarray) -> tuple[float, float] | None:
        """(grasp time, approach duration) for ``brick``, or None if it leaves the window first."""
        env, cfg = self.env, self.cfg
        pos = env.brick_poses()[brick, :3]
        v = env.belt_velocity
        speed = norm(v)
        now = env.sim_time
        t_pref = now + (pos[1] - self.preferred_y) / speed
        approach = 1.0
        for _ in range(2):
            t_g = max(t_start + approach + cfg.descend_s, t_pref)
            hover = pos + v * (t_g - cfg.descend_s - now) + np.array([0.0, 0.0, cfg.hover_height])
            approach = move_duration(q_start, self._ik(hover, 0.0, q_start[:6]), cfg.peak_joint_speed)
        t_g = max(t_start + approach + cfg.descend_s, t_pref)
        y_end = pos[1] + v[1] * (t_g + cfg.close_s - now)
        y_hover = pos[1] + v[1] * (t_g - cfg.descend_s - now)
        if y_end < self.window[0] or y_hover > self.window[1] + 0.05:
            return None
        return t_g, approach

    def plan_pick(
        self,
        brick: int,
        t_start: float,
        q_start: np.ndarray,
        perturb: PickPerturbation = NO_PERTURBATION,
        intervention: bool = False,
    ) -> bool:
        """Append a pick of ``brick`` starting at ``t_start``; False if it cannot be caught."""
        env, cfg = self.env, self.cfg
        timing = self.grasp_time(brick, t_start, q_start)
        if timing is None:
            return False
        t_g, approach = timing
        pose = env.brick_poses()[brick]
        w, z = pose[3], pose[6]
        brick_yaw = 2.0 * math.atan2(z, w)
        closing_yaw = float(brick_yaw + np.pi / 2 + perturb.yaw_offset)
        v, now = env.belt_velocity, env.sim_time
        aim = perturb.aim_error(v)

        def at(t: float) -> np.ndarray:
            return pose[:3] + v * (t - now) + aim

        t_p = t_g - cfg.descend_s
        q_hover = self.kin.solve_top_down(at(t_p) + [0.0, 0.0, cfg.hover_height], closing_yaw, q_start[:6])
        # keep the yaw the IK picked (closing_yaw or closing_yaw + pi) for every tracking segment
        rot = self.kin.forward(q_hover.q)[1]
        closing_yaw = math.atan2(rot[1, 1], rot[0, 1])
        hover = np.concatenate([q_hover.q, [cfg.open_width]])
        flag = intervention
        self.hold(q_start, t_start, t_p - approach, flag)
        start = q_start.copy()
        start[6] = q_start[6]
        self.segments.append(
            Segment("joint", "approach", t_p - approach, t_p, q0=start, q1=hover, brick=brick, intervention=flag)
        )
        track = dict(yaw=closing_yaw, brick=brick, intervention=flag, q0=hover)
        self.segments.append(
            Segment(
                "track",
                "descend",
                t_p,
                t_g,
                origin=at(t_p),
                velocity=v.copy(),
                dz0=cfg.hover_height,
                dz1=0.0,
                grip0=cfg.open_width,
                grip1=cfg.open_width,
                grip_time=0.1,
                **track,
            )
        )
        t_c = t_g + cfg.close_s
        self.segments.append(
            Segment(
                "track",
                "close",
                t_g,
                t_c,
                origin=at(t_g),
                velocity=v.copy(),
                grip0=cfg.open_width,
                grip1=0.0,
                grip_time=0.25,
                **track,
            )
        )
        t_l = t_c + cfg.lift_s
        self.segments.append(
            Segment(
                "track",
                "lift",
                t_c,
                t_l,
                origin=at(t_c),
                velocity=np.zeros(3),
                dz1=cfg.lift_height,
                grip_time=0.1,
                **track,
            )
        )
        q_lift = self.kin.solve(at(t_c) + [0.0, 0.0, cfg.lift_height], top_down_frame(closing_yaw), q_hover.q).q
        lifted = np.concatenate([q_lift, [0.0]])
        carried = np.concatenate([self.bin_q, [0.0]])
        t_carry = t_l + move_duration(lifted, carried, cfg.peak_joint_speed)
        if perturb.drop_at is None:
            self.segments.append(
                Segment("joint", "carry", t_l, t_carry, q0=lifted, q1=carried, brick=brick, intervention=flag)
            )
        else:
            t_drop = t_l + perturb.drop_at * (t_carry - t_l)
            mid = lifted + (carried - lifted) * float(perturb.drop_at)
            opened = carried.copy()
            opened[6] = cfg.open_width
            self.segments.append(
                Segment("joint", "carry", t_l, t_drop, q0=lifted, q1=mid, brick=brick, intervention=flag)
            )
            self.segments.append(
                Segment("joint", "drop", t_drop, t_carry, q0=mid, q1=opened, brick=brick, intervention=flag)
            )
            carried = opened
        released = carried.copy()
        released[6] = cfg.open_width
        self.segments.append(
            Segment(
                "joint",
                "release",
                t_carry,
                t_carry + cfg.release_s,
                q0=carried,
                q1=released,
                brick=brick,
                intervention=flag,
            )
        )
        self.target = brick
        return True

    def plan_ready(self, t_start: float, q_start: np.ndarray, t_until: float, intervention: bool = False) -> None:
        """Go to the ready pose above the arm's stretch of belt (gripper open) and wait there."""
        ready = np.concatenate([self.ready, [self.cfg.open_width]])
        t = t_start
        if np.max(np.abs(ready - q_start)) > 1e-3:
            t = self.move(q_start, ready, t_start, "ready", intervention)
        self.hold(ready, t, max(t_until, t + 1.0 / 30.0), intervention)
        self.target = None

"""Scripted bimanual expert for Dynamic Brick Sorting in the twin (privileged state).

Each arm serves the bricks of its own bin's colour (left: blue, right: yellow) on its stretch
of belt. Plans are made on the simulation clock (see ``planner``) and extended at every
``act`` call; failures noticed at chunk boundaries (lost brick, brick pushed away) trigger a
re-plan, so the expert retries while the brick is still within reach.

Modes:
- ``demo``: clean expert.
- ``rollout``: perturbed expert (timing and aim errors, misread colours, drops, action noise)
  producing policy-rollout-like data with successes and failures.
- ``correction``: the perturbed expert, except that the clean expert takes over when a failure
  is imminent (HG-DAgger style); the steps it controls are flagged in ``chunk.intervention``.

``execution_noise_rad`` > 0 gives DART demonstrations (Laskey et al., 2017): the executed joint
targets carry smooth noise, so the arms visit states off the clean trajectory, while
``chunk.labels`` keep the clean plan's targets, which lead back to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rise_agents.envs.sim.expert_config import DEFAULT_PERTURBATION, ExpertConfig, PerturbationConfig
from rise_agents.envs.sim.layout import ARMS
from rise_agents.envs.sim.mjcf import CONTROL_HZ
from rise_agents.envs.sim.planner import NO_PERTURBATION, ArmPlanner, PickPerturbation
from rise_agents.envs.sim.portable_math import norm
from rise_agents.envs.sim.trajectory import Segment

MODES = ("demo", "rollout", "correction")


@dataclass
class ExpertChunk:
    """One action chunk: ``actions`` (H, 14) float32 within the limits (executed), ``intervention``
    (H,) bool, and with DART noise ``labels`` (H, 14): the clean targets to record instead."""

    actions: np.ndarray
    intervention: np.ndarray
    labels: np.ndarray | None = None


class BrickSortingExpert:
    """Produces action chunks for a ``BrickSortingSimEnv`` from its privileged state."""

    def __init__(
        self,
        env,
        mode: str = "demo",
        perturbation: PerturbationConfig | None = None,
        config: ExpertConfig | None = None,
        seed: int | None = None,
        execution_noise_rad: float = 0.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if execution_noise_rad < 0:
            raise ValueError(f"execution_noise_rad must be >= 0, got {execution_noise_rad}")
        self.env = env.unwrapped
        self.mode = mode
        self.cfg = config or ExpertConfig()
        if mode == "demo":
            self.perturb = PerturbationConfig()
        else:
            self.perturb = perturbation if perturbation is not None else DEFAULT_PERTURBATION
        self.rng = np.random.default_rng(seed)
        self.planners = {arm: ArmPlanner(self.env, arm, self.cfg) for arm in ARMS}
        self.arm_of_colour = {region["colour"]: region["arm"] for region in self.env.bin_regions()}
        n = len(self.env.brick_colours)
        self.misread = self.rng.random(n) < self.perturb.wrong_bin_prob
        self.noise = np.zeros(14)
        self.execution_noise_rad = execution_noise_rad
        self.dart_noise = np.zeros(14)
        self._ref: dict[str, tuple[int, np.ndarray, float]] = {}
        self._started = False

    # ------------------------------------------------------------------ public
    def act(self, obs: dict | None = None) -> ExpertChunk:
        """Next chunk of ``env.chunk_size`` actions (``obs`` is unused: the expert reads the sim)."""
        env = self.env
        dt = 1.0 / CONTROL_HZ
        now = env.sim_time
        t_end = now + env.chunk_size * dt
        for arm, planner in self.planners.items():
            if not self._started:
                planner.segments = []
                planner.sampler.reset(env.arm_qpos(arm))
                planner.hold(env.arm_qpos(arm), now, now + dt)
            self._monitor(arm, now)
            while planner.end_time < t_end + dt:
                self._extend(arm, max(planner.end_time, now), t_end + dt)
        self._started = True
        actions = np.empty((env.chunk_size, 14))
        intervention = np.zeros(env.chunk_size, dtype=bool)
        for k in range(env.chunk_size):
            t = now + (k + 1) * dt
            for a, arm in enumerate(ARMS):
                target, flag = self.planners[arm].sample(t)
                actions[k, 7 * a : 7 * a + 7] = target
                intervention[k] |= flag
            actions[k] += self._noise(bool(intervention[k]))
        actions = np.clip(actions, env.action_low, env.action_high).astype(np.float32)
        if self.execution_noise_rad <= 0:
            return ExpertChunk(actions=actions, intervention=intervention)
        executed = np.stack([a + self._smooth_noise(self.dart_noise, self.execution_noise_rad) for a in actions])
        executed = np.clip(executed, env.action_low, env.action_high).astype(np.float32)
        return ExpertChunk(actions=executed, intervention=intervention, labels=actions)

    # ------------------------------------------------------------------ perturbations
    def _smooth_noise(self, state: np.ndarray, sigma: float) -> np.ndarray:
        """Advance the AR(1) joint noise ``state`` (14,) in place (std ``sigma``, grippers 0); return a copy."""
        rho = self.perturb.noise_smoothing
        joints = np.r_[0:6, 7:13]
        state[joints] = rho * state[joints] + np.sqrt(1 - rho * rho) * sigma * self.rng.standard_normal(12)
        return state.copy()

    def _noise(self, off: bool) -> np.ndarray:
        sigma = self.perturb.action_noise_rad
        if sigma <= 0:
            return np.zeros(14)
        noise = self._smooth_noise(self.noise, sigma)
        return np.zeros(14) if off else noise

    def _sample_pick(self) -> PickPerturbation:
        p, rng = self.perturb, self.rng
        offset = rng.normal(0.0, p.grasp_offset_m, 2) if p.grasp_offset_m > 0 else np.zeros(2)
        if rng.random() < p.grasp_miss_prob:
            angle = rng.uniform(0, 2 * np.pi)
            offset = offset + p.grasp_miss_offset_m * np.array([math.cos(angle), math.sin(angle)])
        return PickPerturbation(
            offset=offset,
            time_offset=float(rng.normal(0.0, p.timing_offset_s)) if p.timing_offset_s > 0 else 0.0,
            yaw_offset=float(rng.normal(0.0, p.yaw_offset_rad)) if p.yaw_offset_rad > 0 else 0.0,
            drop_at=float(rng.uniform(0.2, 0.7)) if rng.random() < p.drop_prob else None,
        )

    # ------------------------------------------------------------------ target choice
    def _perceived_arm(self, brick: int, truth: bool = False) -> str:
        colour = self.env.brick_colours[brick]
        if self.misread[brick] and not truth:
            colour = next(c for c in self.arm_of_colour if c != colour)
        return self.arm_of_colour[colour]

    def _choose(self, arm: str, t0: float, q0: np.ndarray, truth: bool) -> int | None:
        env = self.env
        other = next(p.target for a, p in self.planners.items() if a != arm)
        ys = env.brick_poses()[:, 1]
        for b in sorted(range(len(ys)), key=lambda i: ys[i]):
            if env.brick_states[b] != "on_belt" or b == other or self._perceived_arm(b, truth) != arm:
                continue
            if self.planners[arm].grasp_time(b, t0, q0) is not None:
                return b
        return None

    def _extend(self, arm: str, t0: float, t_until: float) -> None:
        planner = self.planners[arm]
        q0 = planner.target_at(t0) if planner.segments else self.env.arm_qpos(arm)
        choice = self._choose(arm, t0, q0, truth=False)
        if self.mode == "correction":
            clean = self._choose(arm, t0, q0, truth=True)
            if choice != clean and (choice is None or self._perceived_arm(choice, truth=True) != arm):
                self._correct_choice(arm, t0, q0, choice, clean, t_until)
                return
        if choice is None:
            planner.plan_ready(t0, q0, t_until)
            return
        perturb = self._sample_pick() if self.perturb.active else NO_PERTURBATION
        planner.plan_pick(choice, t0, q0, perturb)
        self._remember(arm, choice)
        if self.mode == "correction":
            self._take_over_if_doomed(arm, choice, perturb, t_until)

    def _remember(self, arm: str, brick: int) -> None:
        self._ref[arm] = (brick, self.env.brick_poses()[brick, :3].copy(), self.env.sim_time)

    # ------------------------------------------------------------------ corrections
    def _plan_clean(self, arm: str, t0: float, q0: np.ndarray, brick: int | None, t_until: float) -> None:
        planner = self.planners[arm]
        q0, t0 = planner.lift_clear(q0, t0, intervention=True)
        if brick is not None and planner.plan_pick(brick, t0, q0, intervention=True):
            self._remember(arm, brick)
            return
        planner.plan_ready(t0, q0, t_until, intervention=True)

    def _correct_choice(
        self, arm: str, t0: float, q0: np.ndarray, wrong: int | None, clean: int | None, t_until: float
    ) -> None:
        """A misread colour: the perturbed arm goes for a wrong brick, or ignores its own."""
        planner = self.planners[arm]
        if wrong is not None and planner.plan_pick(wrong, t0, q0, self._sample_pick()):
            approach = next(s for s in planner.segments if s.label == "approach" and s.t0 >= t0 - 1e-9)
            t_k = approach.t0 + self.cfg.takeover_fraction * (approach.t1 - approach.t0)
            self.misread[wrong] = False
            q0 = planner.truncate(t_k)
            t0 = t_k
            clean = self._choose(arm, t0, q0, truth=True)
        if clean is not None:
            self.misread[clean] = False
        self._plan_clean(arm, t0, q0, clean, t_until)

    def _take_over_if_doomed(self, arm: str, brick: int, perturb: PickPerturbation, t_until: float) -> None:
        planner = self.planners[arm]
        pick = [s for s in planner.segments if s.brick == brick]
        descend = next(s for s in pick if s.label == "descend")
        reason = perturb.doomed(descend.yaw, self.env.belt_velocity, self.env.layout.brick_half)
        if reason == "aim":
            t_k = descend.t0 + self.cfg.takeover_fraction * (descend.t1 - descend.t0)
            q_k = planner.truncate(t_k)
            self._plan_clean(arm, t_k, q_k, brick, t_until)
        elif reason == "drop":
            drop = next(s for s in pick if s.label == "drop")
            t_k = max(drop.t0 - 0.1, pick[0].t0)
            q_k = planner.truncate(t_k)
            q_k[6] = 0.0
            carried = np.concatenate([planner.bin_q, [0.0]])
            t_c = planner.move(q_k, carried, t_k, "carry", intervention=True)
            released = carried.copy()
            released[6] = self.cfg.open_width
            planner.segments.append(
                Segment(
                    "joint",
                    "release",
                    t_c,
                    t_c + self.cfg.release_s,
                    q0=carried,
                    q1=released,
                    brick=brick,
                    intervention=True,
                )
            )

    # ------------------------------------------------------------------ monitoring
    def _monitor(self, arm: str, now: float) -> None:
        """Re-plan from ``now`` if the current pick has visibly failed."""
        planner = self.planners[arm]
        brick = planner.target
        seg = planner.segment_at(now)
        if brick is None or seg is None:
            return
        env = self.env
        state, holder = env.brick_states[brick], env.brick_holders[brick]
        failed = False
        if seg.label in ("lift", "carry"):
            failed = not (state == "held" and holder == arm)
        elif seg.label in ("hold", "approach", "descend") and arm in self._ref:
            b, pos, t_ref = self._ref[arm]
            predicted = pos + env.belt_velocity * (now - t_ref)
            moved = norm(env.brick_poses()[brick, :3] - predicted)
            failed = state != "on_belt" or moved > 0.015
        if failed:
            flag = seg.intervention
            q = planner.truncate(now)
            q, t = planner.lift_clear(q, now, intervention=flag)
            planner.target = None


def make_expert(
    env,
    mode: str = "demo",
    seed: int | None = None,
    perturbation: PerturbationConfig | None = None,
    config: ExpertConfig | None = None,
    execution_noise_rad: float = 0.0,
) -> BrickSortingExpert:
    """Expert for ``env`` (call after ``env.reset``); rollout/correction use ``DEFAULT_PERTURBATION``;
    ``execution_noise_rad`` > 0 executes noisy targets and labels the clean ones (DART)."""
    return BrickSortingExpert(env, mode=mode, perturbation=perturbation, config=config, seed=seed,
                              execution_noise_rad=execution_noise_rad)

"""Dynamic Brick Sorting: conveyor, brick life cycle and the Table VII score.

A running belt brings ``num_bricks`` bricks (blue or yellow) one after another from its
upstream end. Each brick must be lifted off the belt (+1.0, counted once per brick) and
dropped into the bin of its colour (+1.5); the score is capped at 10 (4 bricks -> 10).
Success: every brick of the episode lies in its matching bin.

Brick states: ``pending`` (not spawned yet), ``on_belt``, ``held`` (between the two fingers of
one gripper), ``released`` (let go, still moving), ``loose`` (on the table or floor),
``sorted`` (matching bin) and ``wrong_bin``; the last two are final. Events (dicts with
``type``, ``brick``, ``colour``, ``step`` and more) report spawns, grasps, placements,
wrong bins, drops and missed bricks (bricks reaching the belt's downstream end).

The belt is kinematic: the belt surface is frictionless and every control step each brick that
rests on it and touches no gripper is given the belt velocity.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rise_agents.envs.sim.layout import ARMS, BIN_COLOURS, COLOUR_NAMES, COLOURS, SceneLayout
from rise_agents.envs.sim.mjcf import CONTROL_HZ, parked_position
from rise_agents.envs.sim.portable_math import dot
from rise_agents.envs.sim.scoring import ScoreBoard

FINAL_STATES = ("sorted", "wrong_bin")


class BrickSortingConfig(BaseModel):
    """Episode parameters of the Dynamic Brick Sorting task."""

    model_config = ConfigDict(frozen=True)

    num_bricks: int = Field(4, ge=1, le=12, description="Bricks brought by the conveyor per episode.")
    time_limit_s: float = Field(30.0, gt=0, description="Episode length in seconds of simulated time.")
    conveyor_speed: float = Field(0.06, gt=0, le=0.3, description="Belt speed (m/s), left to right.")
    spawn_interval_s: float = Field(3.0, gt=0, description="Mean time between two bricks (s).")
    spawn_jitter_s: float = Field(0.5, ge=0, description="Uniform jitter added to each spawn time (s).")
    first_spawn_s: float = Field(0.0, ge=0, description="Spawn time of the first brick (s).")
    grasp_points: float = Field(1.0, description="Score for the first lift of each brick off the belt.")
    place_points: float = Field(1.5, description="Score for each brick dropped into its matching bin.")
    max_score: float = Field(10.0, description="Cap of the episode score.")

    def spawn_steps(self, rng: np.random.Generator) -> np.ndarray:
        """Control step at which each brick appears, shape (num_bricks,), non-decreasing."""
        times = self.first_spawn_s + self.spawn_interval_s * np.arange(self.num_bricks)
        times = times + rng.uniform(0.0, self.spawn_jitter_s, self.num_bricks) * (np.arange(self.num_bricks) > 0)
        return np.round(times * CONTROL_HZ).astype(np.int64)


class BrickSortingTask:
    """Spawns bricks, drives the belt, tracks every brick and scores the episode."""

    def __init__(self, model: mujoco.MjModel, layout: SceneLayout, config: BrickSortingConfig) -> None:
        min_gap = (config.spawn_interval_s - config.spawn_jitter_s) * config.conveyor_speed
        if config.num_bricks > 1 and min_gap < 2 * layout.brick_half[0] + 0.05:
            raise ValueError(
                f"(spawn_interval_s - spawn_jitter_s) x conveyor_speed = {min_gap:.3f} m would let bricks "
                f"overlap; expected at least {2 * layout.brick_half[0] + 0.05:.3f} m between bricks"
            )
        self.model, self.layout, self.config = model, layout, config
        n = config.num_bricks
        self.brick_body = np.array([model.body(f"brick{i}").id for i in range(n)])
        self.brick_geom = np.array([model.geom(f"brick{i}").id for i in range(n)])
        joints = [model.joint(f"brick{i}") for i in range(n)]
        self.brick_qpos = np.array([j.qposadr[0] for j in joints])
        self.brick_qvel = np.array([j.dofadr[0] for j in joints])
        self.stripe_mocap = np.array(
            [model.body_mocapid[model.body(f"stripe{k}").id] for k in range(layout.n_belt_stripes)]
        )
        # geom id -> brick index; geom id -> gripper contact slot (arm*3 + 0/1 finger, 2 palm)
        self.geom_brick = np.full(model.ngeom, -1)
        self.geom_brick[self.brick_geom] = np.arange(n)
        self.geom_grip = np.full(model.ngeom, -1)
        for a, arm in enumerate(ARMS):
            for slot, name in enumerate((f"{arm}_finger1", f"{arm}_finger2", f"{arm}_palm")):
                self.geom_grip[model.geom(name).id] = 3 * a + slot
        self.belt_velocity = np.array([0.0, -config.conveyor_speed, 0.0])
        self.reset_bookkeeping(np.zeros(n, dtype=np.int64), ["blue"] * n)

    # ------------------------------------------------------------------ episode
    def reset_bookkeeping(self, spawn_steps: np.ndarray, colours: list[str]) -> None:
        n = self.config.num_bricks
        self.spawn_steps = np.asarray(spawn_steps, dtype=np.int64)
        self.colours = tuple(colours)
        self.states = ["pending"] * n
        self.holder: list[str | None] = [None] * n
        self.lifted = np.zeros(n, dtype=bool)  # lifted during the current hold
        self.board = ScoreBoard(n, self.config.grasp_points, self.config.place_points, self.config.max_score)

    def reset(self, data: mujoco.MjData, rng: np.random.Generator) -> list[dict]:
        """Draw colours and spawn times, park every brick, spawn those due at step 0."""
        n = self.config.num_bricks
        colours = list(rng.choice(COLOUR_NAMES, size=n))
        if n >= 2 and len(set(colours)) < 2:  # at least one brick of each colour
            colours[int(rng.integers(n))] = COLOUR_NAMES[1] if colours[0] == COLOUR_NAMES[0] else COLOUR_NAMES[0]
        self.reset_bookkeeping(self.config.spawn_steps(rng), [str(c) for c in colours])
        self._spawn_x = rng.uniform(-1.0, 1.0, n) * self.layout.spawn_x_jitter
        self._spawn_yaw = rng.uniform(-np.pi / 2, np.pi / 2, n)
        for i in range(n):
            self.model.geom_rgba[self.brick_geom[i]] = COLOURS[self.colours[i]]
            self._place(data, i, np.array(parked_position(i)), 0.0, np.zeros(3))
        self._move_stripes(data, 0)
        return self.before_step(data, 0)

    def _place(self, data: mujoco.MjData, i: int, pos: np.ndarray, yaw: float, vel: np.ndarray) -> None:
        q, v = self.brick_qpos[i], self.brick_qvel[i]
        data.qpos[q : q + 3] = pos
        data.qpos[q + 3 : q + 7] = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
        data.qvel[v : v + 6] = 0.0
        data.qvel[v : v + 3] = vel

    def _move_stripes(self, data: mujoco.MjData, step: int) -> None:
        y0, y1 = self.layout.belt_y
        length = y1 - y0
        k = np.arange(len(self.stripe_mocap))
        offset = (k * length / len(k) + self.config.conveyor_speed * step / CONTROL_HZ) % length
        data.mocap_pos[self.stripe_mocap, 0] = self.layout.belt_x
        data.mocap_pos[self.stripe_mocap, 1] = y1 - offset
        data.mocap_pos[self.stripe_mocap, 2] = self.layout.belt_top + 0.0006

    # ------------------------------------------------------------------ per control step
    def before_step(self, data: mujoco.MjData, step: int) -> list[dict]:
        """Spawn due bricks and give bricks resting on the belt the belt velocity."""
        events = []
        lay = self.layout
        for i in np.flatnonzero((self.spawn_steps <= step) & np.array([s == "pending" for s in self.states])):
            pos = np.array([lay.belt_x + self._spawn_x[i], lay.spawn_y, lay.belt_top + lay.brick_half[2] + 5e-4])
            self._place(data, int(i), pos, float(self._spawn_yaw[i]), self.belt_velocity)
            self.states[i] = "on_belt"
            events.append(self._event("spawn", int(i), step))
        touched = self.gripper_touch(data).any(axis=1)
        for i, state in enumerate(self.states):
            if state == "on_belt" and not touched[i]:
                v = self.brick_qvel[i]
                data.qvel[v : v + 3] = self.belt_velocity
                data.qvel[v + 3 : v + 6] = 0.0
        self._move_stripes(data, step)
        return events

    def after_step(self, data: mujoco.MjData, step: int) -> tuple[float, list[dict]]:
        """Update brick states after a control step; returns (points gained, events)."""
        events: list[dict] = []
        points = 0.0
        touch = self.gripper_touch(data)
        for i, state in enumerate(self.states):
            if state in FINAL_STATES or state == "pending":
                continue
            pos = data.xpos[self.brick_body[i]]
            bottom = pos[2] - self._half_height(data, i)
            holder = self._holder(touch[i])
            bin_idx = self._bin_at(pos)
            if holder is not None:
                self.states[i], self.holder[i] = "held", holder
                if bottom > self._support_height(pos) + 0.01:
                    self.lifted[i] = True
                    if not self.board.grasped[i]:
                        points += self.board.grasp(i)
                        events.append(self._event("grasp", i, step, arm=holder, points=self.config.grasp_points))
                continue
            if state == "held":
                self.states[i] = state = "released"
            if bin_idx is not None:
                matching = BIN_COLOURS[bin_idx] == self.colours[i]
                gained = self.board.place(i, matching)
                points += gained
                self.states[i] = "sorted" if matching else "wrong_bin"
                kind = "placed" if matching else "wrong_bin"
                events.append(self._event(kind, i, step, arm=self.holder[i], bin=BIN_COLOURS[bin_idx], points=gained))
            elif self._on_belt(pos, bottom):
                if state == "released" and self.lifted[i]:
                    events.append(self._event("drop", i, step, arm=self.holder[i], onto="belt"))
                self.states[i], self.lifted[i] = "on_belt", False
            elif bottom < self.layout.belt_top - 0.01 and state != "loose":
                if state == "on_belt" and pos[1] < self.layout.belt_y[0]:
                    events.append(self._event("missed", i, step))
                else:
                    events.append(self._event("drop", i, step, arm=self.holder[i], onto="table"))
                self.states[i], self.lifted[i] = "loose", False
        return points, events

    # ------------------------------------------------------------------ geometry helpers
    def gripper_touch(self, data: mujoco.MjData) -> np.ndarray:
        """(num_bricks, 6) bool: brick touches [left f1, left f2, left palm, right f1, right f2, right palm]."""
        touch = np.zeros((self.config.num_bricks, 3 * len(ARMS)), dtype=bool)
        if data.ncon == 0:
            return touch
        geoms = data.contact.geom[: data.ncon]
        bricks = self.geom_brick[geoms]
        grips = self.geom_grip[geoms]
        for a, b in ((0, 1), (1, 0)):
            sel = (bricks[:, a] >= 0) & (grips[:, b] >= 0)
            touch[bricks[sel, a], grips[sel, b]] = True
        return touch

    @staticmethod
    def _holder(touch_row: np.ndarray) -> str | None:
        for a, arm in enumerate(ARMS):
            if touch_row[3 * a] and touch_row[3 * a + 1]:
                return arm
        return None

    def _half_height(self, data: mujoco.MjData, i: int) -> float:
        rot = data.xmat[self.brick_body[i]].reshape(3, 3)
        return dot(np.abs(rot[2]), np.asarray(self.layout.brick_half))

    def _in_belt_footprint(self, pos: np.ndarray) -> bool:
        lay = self.layout
        return abs(pos[0] - lay.belt_x) <= lay.belt_half_width and lay.belt_y[0] <= pos[1] <= lay.belt_y[1]

    def _support_height(self, pos: np.ndarray) -> float:
        return self.layout.belt_top if self._in_belt_footprint(pos) else 0.0

    def _on_belt(self, pos: np.ndarray, bottom: float) -> bool:
        return self._in_belt_footprint(pos) and abs(bottom - self.layout.belt_top) < 0.006

    def _bin_at(self, pos: np.ndarray) -> int | None:
        lay = self.layout
        for b, (cx, cy) in enumerate(lay.bin_centres):
            inside = abs(pos[0] - cx) <= lay.bin_inner_half and abs(pos[1] - cy) <= lay.bin_inner_half
            if inside and pos[2] < lay.bin_wall_height:
                return b
        return None

    def _event(self, kind: str, i: int, step: int, **extra: object) -> dict:
        return {"type": kind, "brick": int(i), "colour": self.colours[i], "step": int(step), **extra}

    # ------------------------------------------------------------------ summaries
    @property
    def score(self) -> float:
        return self.board.score

    @property
    def success(self) -> bool:
        return all(s == "sorted" for s in self.states)

    def bin_regions(self) -> list[dict]:
        """Per bin: colour, centre (x, y), inner half size and rim height (m)."""
        lay = self.layout
        return [
            {
                "colour": BIN_COLOURS[b],
                "centre": (float(cx), float(cy)),
                "inner_half": lay.bin_inner_half,
                "rim_height": lay.bin_wall_height,
                "arm": ARMS[b],
            }
            for b, (cx, cy) in enumerate(lay.bin_centres)
        ]

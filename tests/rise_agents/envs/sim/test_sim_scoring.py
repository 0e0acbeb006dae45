"""Dynamic Brick Sorting scoring (paper Table VII) and brick events in the twin."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rise_agents.envs.sim import BrickSortingSimEnv  # noqa: E402
from rise_agents.envs.sim.scoring import ScoreBoard  # noqa: E402


def test_grasp_counts_once_per_brick():
    board = ScoreBoard(2)
    assert board.grasp(0) == 1.0
    assert board.grasp(0) == 0.0
    assert board.grasp(1) == 1.0
    assert board.score == 2.0


def test_matching_bin_scores_and_wrong_bin_does_not():
    board = ScoreBoard(2)
    assert board.place(0, matching=True) == 1.5
    assert board.place(0, matching=True) == 0.0  # once per brick
    assert board.place(1, matching=False) == 0.0
    assert board.score == 1.5


def test_score_is_capped_at_ten():
    board = ScoreBoard(6)
    gained = sum(board.grasp(i) + board.place(i, True) for i in range(6))
    assert board.score == 10.0 and gained == pytest.approx(10.0)
    four = ScoreBoard(4)
    assert sum(four.grasp(i) + four.place(i, True) for i in range(4)) == pytest.approx(10.0)


# ---------------------------------------------------------------------- in the simulator
def make_env(**kwargs) -> BrickSortingSimEnv:
    defaults = dict(height=32, width=48, chunk_size=10, num_bricks=2, render_cameras=False)
    defaults.update(kwargs)
    return BrickSortingSimEnv(**defaults)


def hold(env: BrickSortingSimEnv):
    return env.step(np.tile(env.home_action, (env.chunk_size, 1)))


def teleport(env: BrickSortingSimEnv, brick: int, xyz: tuple[float, float, float]) -> None:
    q = env.task.brick_qpos[brick]
    env.data.qpos[q : q + 7] = [*xyz, 1.0, 0.0, 0.0, 0.0]
    env.data.qvel[env.task.brick_qvel[brick] : env.task.brick_qvel[brick] + 6] = 0.0


def bin_point(env: BrickSortingSimEnv, colour: str) -> tuple[float, float, float]:
    region = next(r for r in env.bin_regions() if r["colour"] == colour)
    return (*region["centre"], 0.03)


def spawn_all(env: BrickSortingSimEnv) -> None:
    while "pending" in env.brick_states:
        hold(env)


def test_brick_in_matching_bin_scores_and_all_sorted_is_success():
    env = make_env()
    env.reset(seed=0)
    spawn_all(env)
    teleport(env, 0, bin_point(env, env.brick_colours[0]))
    _, reward, terminated, _, info = hold(env)
    placed = [e for e in info["events"] if e["type"] == "placed"]
    assert reward == 1.5 and len(placed) == 1
    assert placed[0]["brick"] == 0 and placed[0]["colour"] == env.brick_colours[0]
    assert set(placed[0]) >= {"type", "brick", "colour", "step"}
    assert env.brick_states[0] == "sorted" and not terminated
    teleport(env, 1, bin_point(env, env.brick_colours[1]))
    _, reward, terminated, truncated, info = hold(env)
    assert reward == 1.5 and terminated and not truncated
    assert info["success"] and info["score"] == 3.0
    assert info["n_executed"] == 1 and info["ended_mid_chunk"]  # success stops the chunk


def test_wrong_bin_is_an_event_without_points_and_no_success():
    env = make_env()
    env.reset(seed=0)
    spawn_all(env)
    colour = env.brick_colours[0]
    other = next(c for c in ("blue", "yellow") if c != colour)
    teleport(env, 0, bin_point(env, other))
    _, reward, terminated, _, info = hold(env)
    wrong = [e for e in info["events"] if e["type"] == "wrong_bin"]
    assert reward == 0.0 and not terminated and len(wrong) == 1
    assert wrong[0]["brick"] == 0 and wrong[0]["bin"] == other
    assert env.brick_states[0] == "wrong_bin"
    teleport(env, 1, bin_point(env, env.brick_colours[1]))
    _, _, terminated, _, info = hold(env)
    assert not terminated and not info["success"]


def test_brick_reaching_the_belt_end_is_missed():
    env = make_env(num_bricks=1, conveyor_speed=0.25, spawn_interval_s=1.0)
    env.reset(seed=0)
    events = []
    for _ in range(25):  # 8.3 s: the belt (1.15 m to its end at 0.25 m/s) has carried it off
        events += hold(env)[4]["events"]
    missed = [e for e in events if e["type"] == "missed"]
    assert len(missed) == 1 and missed[0]["brick"] == 0
    assert env.brick_states[0] == "loose"


def test_brick_knocked_off_the_belt_is_a_drop():
    env = make_env(num_bricks=1)
    env.reset(seed=0)
    teleport(env, 0, (0.50, 0.0, 0.03))  # on the table beside the belt
    _, reward, _, _, info = hold(env)
    drops = [e for e in info["events"] if e["type"] == "drop"]
    assert len(drops) == 1 and drops[0]["onto"] == "table" and reward == 0.0


def test_bricks_on_the_belt_move_at_belt_speed():
    env = make_env(num_bricks=1, conveyor_speed=0.08, spawn_interval_s=1.0)
    env.reset(seed=3)
    start = env.brick_poses()[0, :3]
    hold(env)
    moved = env.brick_poses()[0, :3] - start
    assert moved[1] == pytest.approx(-0.08 * env.chunk_size / 30, abs=2e-3)
    assert abs(moved[0]) < 1e-3 and abs(moved[2]) < 1e-3
    assert env.brick_states[0] == "on_belt"


def test_both_colours_appear_and_spawns_are_spread_in_time():
    env = make_env(num_bricks=4)
    for seed in range(5):
        env.reset(seed=seed)
        assert set(env.brick_colours) == {"blue", "yellow"}
        gaps = np.diff(env.spawn_steps)
        assert (gaps >= (3.0 - 0.5) * 30).all()  # interval minus the spawn jitter

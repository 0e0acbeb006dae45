"""Scripted expert: IK accuracy, trajectories, and full episodes in a reduced twin."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rise_agents.envs.sim import BrickSortingSimEnv, PerturbationConfig, make_expert  # noqa: E402
from rise_agents.envs.sim.kinematics import JOINT_HIGH, JOINT_LOW, ArmKinematics, top_down_frame  # noqa: E402
from rise_agents.envs.sim.trajectory import min_jerk  # noqa: E402


def make_env(**kwargs) -> BrickSortingSimEnv:
    defaults = dict(height=32, width=48, chunk_size=50, num_bricks=2, render_cameras=False)
    defaults.update(kwargs)
    return BrickSortingSimEnv(**defaults)


def run_episode(env: BrickSortingSimEnv, mode: str, seed: int, **expert_kwargs) -> dict:
    obs, _ = env.reset(seed=seed)
    expert = make_expert(env, mode=mode, seed=seed, **expert_kwargs)
    events, interventions, tracking = [], [], []
    while True:
        chunk = expert.act(obs)
        assert chunk.actions.shape == (env.chunk_size, 14) and chunk.actions.dtype == np.float32
        assert chunk.intervention.shape == (env.chunk_size,) and chunk.intervention.dtype == bool
        assert (chunk.actions >= env.action_low).all() and (chunk.actions <= env.action_high).all()
        obs, reward, terminated, truncated, info = env.step(chunk.actions)
        events += info["events"]
        interventions.append(chunk.intervention[: info["n_executed"]])
        joints = np.r_[0:6, 7:13]
        tracking.append(np.abs(info["frame_states"][:, joints] - info["executed_actions"][1::2][:, joints]))
        if terminated or truncated:
            break
    return dict(
        info=info,
        events=events,
        intervention=np.concatenate(interventions),
        tracking=np.concatenate(tracking),
    )


def test_min_jerk_profile():
    s = np.linspace(0, 1, 101)
    phase = min_jerk(s)
    assert phase[0] == 0.0 and phase[-1] == pytest.approx(1.0)
    assert (np.diff(phase) >= 0).all()
    np.testing.assert_allclose(phase + phase[::-1], 1.0, atol=1e-12)  # symmetric
    assert (np.diff(phase[:3]) < 1e-4).all()  # starts at rest


def test_ik_reaches_top_down_grasps_on_the_belt():
    env = make_env()
    rng = np.random.default_rng(0)
    for arm, sign in (("left", 1.0), ("right", -1.0)):
        kin = ArmKinematics(env.model, arm)
        seed = env.home_action[:6] if arm == "left" else env.home_action[7:13]
        for _ in range(8):
            target = np.array([rng.uniform(0.24, 0.32), sign * rng.uniform(0.08, 0.5), 0.062])
            yaw = rng.uniform(-np.pi, np.pi)
            res = kin.solve_top_down(target, yaw, seed)
            assert res.ok, (arm, target, res)
            pos, rot = kin.forward(res.q)
            assert np.linalg.norm(pos - target) < 2e-3
            assert rot[:, 0] @ np.array([0.0, 0.0, -1.0]) > np.cos(0.02)  # tool axis points down
            closing = rot[:, 1]
            assert abs(abs(closing @ top_down_frame(yaw)[:, 1]) - 1.0) < 1e-3  # yaw modulo pi
            assert (res.q >= JOINT_LOW - 1e-9).all() and (res.q <= JOINT_HIGH + 1e-9).all()


def test_clean_expert_sorts_every_brick_and_tracks_its_targets():
    env = make_env()
    out = run_episode(env, "demo", seed=0)
    info, events = out["info"], out["events"]
    assert info["success"] and info["score"] == 5.0
    kinds = [e["type"] for e in events if e["type"] != "spawn"]
    assert sorted(kinds) == ["grasp", "grasp", "placed", "placed"]
    assert sorted(e["brick"] for e in events if e["type"] == "grasp") == [0, 1]
    for e in events:
        if e["type"] == "grasp":  # the arm on the side of the brick's bin picked it
            assert e["arm"] == ("left" if e["colour"] == "blue" else "right")
    assert not out["intervention"].any()
    assert np.median(out["tracking"]) < 0.01 and np.percentile(out["tracking"], 99) < 0.1


def test_expert_is_deterministic_for_a_seed():
    env = make_env(num_bricks=1, time_limit_s=8.0)
    a = run_episode(env, "rollout", seed=3)
    b = run_episode(env, "rollout", seed=3)
    assert a["events"] == b["events"]
    np.testing.assert_array_equal(a["info"]["executed_actions"], b["info"]["executed_actions"])


def test_misread_colours_end_in_the_wrong_bin():
    env = make_env(num_bricks=1, time_limit_s=20.0)
    out = run_episode(env, "rollout", seed=1, perturbation=PerturbationConfig(wrong_bin_prob=1.0))
    kinds = [e["type"] for e in out["events"]]
    assert "wrong_bin" in kinds and not out["info"]["success"]
    assert out["info"]["score"] == 1.0  # the grasp scores, the wrong bin does not


def test_corrections_take_over_doomed_picks_and_are_flagged():
    env = make_env(num_bricks=1, time_limit_s=20.0)
    always_miss = PerturbationConfig(grasp_miss_prob=1.0, grasp_miss_offset_m=0.035)
    rollout = run_episode(env, "rollout", seed=2, perturbation=always_miss)
    correction = run_episode(env, "correction", seed=2, perturbation=always_miss)
    assert not rollout["intervention"].any()
    flags = correction["intervention"]
    assert flags.any() and not flags.all()
    assert not flags[0]  # the perturbed policy starts, the expert takes over later
    assert correction["info"]["success"]


def test_dart_expert_executes_smooth_noise_and_labels_the_clean_plan():
    env = make_env()
    obs, _ = env.reset(seed=3)
    clean = make_expert(env, mode="demo", seed=3).act(obs)
    obs, _ = env.reset(seed=3)
    dart = make_expert(env, mode="demo", seed=3, execution_noise_rad=0.03).act(obs)
    np.testing.assert_array_equal(dart.labels, clean.actions)  # same plan from the same start
    joints, grippers = np.r_[0:6, 7:13], [6, 13]
    noise = dart.actions[:, joints] - dart.labels[:, joints]
    assert 0.005 < np.abs(noise).mean() < 0.05
    assert np.abs(np.diff(noise, axis=0)).mean() < 0.5 * np.abs(noise).mean()  # AR(1): smooth, not white
    np.testing.assert_array_equal(dart.actions[:, grippers], dart.labels[:, grippers])
    assert clean.labels is None  # no noise: what is executed is what is recorded
    with pytest.raises(ValueError, match="execution_noise_rad"):
        make_expert(env, mode="demo", seed=3, execution_noise_rad=-0.1)

"""BrickSortingSimEnv: Gymnasium/SB3 conformance, input validation, timing, frames, determinism."""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rise_agents.envs.sim import BrickSortingSimEnv  # noqa: E402
from rise_env.spec import CAMERA_KEYS, ActionChunkError  # noqa: E402

H, W = 48, 64


def make_env(**kwargs) -> BrickSortingSimEnv:
    defaults = dict(height=H, width=W, chunk_size=10, num_bricks=2)
    defaults.update(kwargs)
    return BrickSortingSimEnv(**defaults)


def hold_chunk(env: BrickSortingSimEnv) -> np.ndarray:
    return np.tile(env.home_action, (env.chunk_size, 1))


def snapshot(env: BrickSortingSimEnv) -> tuple:
    return env.data.qpos.copy(), env.data.qvel.copy(), float(env.data.time), env.control_step, env.task.states.copy()


def test_gymnasium_and_sb3_checkers_pass():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = make_env()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # gymnasium's checker must not even warn
        check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(make_env(), warn=False)


def test_registered_id_makes_the_env_with_rendering():
    import rise_agents  # noqa: F401  (registers the ids)

    env = gym.make("RISE/BrickSortingSim-v0", height=H, width=W, chunk_size=5, render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.shape == (H, 3 * W, 3) and image.dtype == np.uint8
    assert image.std() > 5  # a scene, not a blank image
    env.close()


def test_observation_layout_and_fresh_arrays():
    env = make_env()
    obs, info = env.reset(seed=1)
    assert set(obs) == {*CAMERA_KEYS, "state"}
    for key in CAMERA_KEYS:
        assert obs[key].shape == (H, W, 3) and obs[key].dtype == np.uint8
    assert obs["state"].shape == (14,) and obs["state"].dtype == np.float32
    assert env.observation_space.contains(obs)
    np.testing.assert_allclose(obs["state"], env.home_action, atol=1e-3)
    obs2, reward, terminated, truncated, info2 = env.step(hold_chunk(env))
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
    for key in obs:
        assert not np.shares_memory(obs[key], obs2[key])
    assert not np.shares_memory(obs2["top"], info2["frames"])


def test_step_before_reset_and_after_the_end_raise_reset_needed():
    env = make_env(time_limit_s=1.0)
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        env.step(np.zeros((10, 14), np.float32))
    env.reset(seed=0)
    for _ in range(3):
        env.step(hold_chunk(env))
    with pytest.raises(gym.error.ResetNeeded, match="ended"):
        env.step(hold_chunk(env))


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((9, 14), np.float32), "shape"),
        (np.zeros((10, 13), np.float32), "shape"),
        (np.zeros((10, 14), np.complex64), "dtype"),
        (np.full((10, 14), "a"), "dtype"),
        ("nan", "NaN"),
        ("inf", "NaN/inf"),
        ("high", "outside its limits"),
    ],
)
def test_bad_chunks_raise_and_leave_the_state_unchanged(bad, match):
    env = make_env()
    env.reset(seed=0)
    env.step(hold_chunk(env))
    if isinstance(bad, str):
        chunk = hold_chunk(env).copy()
        chunk[3, 1] = {"nan": np.nan, "inf": np.inf, "high": 3.5}[bad]
        bad = chunk
    before = snapshot(env)
    with pytest.raises(ActionChunkError, match=match):
        env.step(bad)
    after = snapshot(env)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_clip_actions_clips_and_counts():
    env = make_env(clip_actions=True)
    env.reset(seed=0)
    chunk = hold_chunk(env).copy()
    chunk[0, 1] = -0.5  # j2 below 0
    chunk[4, 13] = 0.2  # gripper above 0.07
    _, _, _, _, info = env.step(chunk)
    assert info["n_clipped"] == 2
    assert info["executed_actions"][0, 1] == 0.0
    assert info["executed_actions"][4, 13] == pytest.approx(0.07)


def test_sim_time_advances_exactly_one_chunk():
    env = make_env(chunk_size=50)
    env.reset(seed=0)
    for k in range(1, 3):
        env.step(hold_chunk(env))
        assert env.sim_time == pytest.approx(k * 50 / 30, abs=1e-12)
        assert env.data.time == pytest.approx(k * 50 / 30, abs=1e-9)
        assert env.control_step == 50 * k


@pytest.mark.parametrize("hz, count", [(15, 25), (30, 50)])
def test_info_frames_are_the_observations_after_sampled_steps(hz, count):
    env = make_env(chunk_size=50, info_frame_hz=hz)
    env.reset(seed=2)
    obs, _, _, _, info = env.step(hold_chunk(env))
    assert info["frames"].shape == (count, 3, H, W, 3) and info["frames"].dtype == np.uint8
    assert info["frame_states"].shape == (count, 14)
    np.testing.assert_array_equal(info["frame_steps"], np.arange(1, count + 1) * (30 // hz))
    for i, key in enumerate(CAMERA_KEYS):
        np.testing.assert_array_equal(info["frames"][-1, i], obs[key])
    np.testing.assert_array_equal(info["frame_states"][-1], obs["state"])
    assert info["executed_actions"].shape == (50, 14) and not info["ended_mid_chunk"]


def test_episode_ending_mid_chunk_stops_execution():
    env = make_env(chunk_size=20, time_limit_s=1.0, info_frame_hz=15)  # 30 control steps
    env.reset(seed=0)
    _, _, _, truncated, _ = env.step(hold_chunk(env))
    assert not truncated
    _, _, terminated, truncated, info = env.step(hold_chunk(env))
    assert truncated and not terminated
    assert info["n_executed"] == 10 and info["ended_mid_chunk"]
    assert info["executed_actions"].shape == (10, 14)
    assert info["frames"].shape[0] == 5
    assert env.control_step == 30


def test_reset_with_a_seed_is_deterministic():
    env_a, env_b = make_env(), make_env()
    obs_a, _ = env_a.reset(seed=7)
    obs_b, _ = env_b.reset(seed=7)
    for key in obs_a:
        np.testing.assert_array_equal(obs_a[key], obs_b[key])
    assert env_a.brick_colours == env_b.brick_colours
    rng = np.random.default_rng(0)
    for _ in range(3):
        chunk = np.clip(hold_chunk(env_a) + rng.normal(0, 0.05, (10, 14)), env_a.action_low, env_a.action_high)
        obs_a, r_a, *_ = env_a.step(chunk.astype(np.float32))
        obs_b, r_b, *_ = env_b.step(chunk.astype(np.float32))
    for key in obs_a:
        np.testing.assert_array_equal(obs_a[key], obs_b[key])
    np.testing.assert_array_equal(env_a.brick_poses(), env_b.brick_poses())
    draws = {tuple(make_env().task.config.spawn_steps(np.random.default_rng(s))) for s in range(5)}
    assert len(draws) > 1  # different seeds give different episodes


def test_render_cameras_off_gives_black_images_and_same_physics():
    fast, full = make_env(render_cameras=False), make_env()
    obs_f, _ = fast.reset(seed=4)
    full.reset(seed=4)
    assert all(obs_f[k].max() == 0 for k in CAMERA_KEYS)
    obs_f, *_ = fast.step(hold_chunk(fast))
    obs_full, *_ = full.step(hold_chunk(full))
    np.testing.assert_array_equal(obs_f["state"], obs_full["state"])


def test_invalid_constructor_arguments_are_named():
    with pytest.raises(ValueError, match="info_frame_hz"):
        make_env(info_frame_hz=7)
    with pytest.raises(ValueError, match="render_mode"):
        make_env(render_mode="human")
    with pytest.raises(ValueError, match="chunk_size"):
        make_env(chunk_size=0)

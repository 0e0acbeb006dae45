"""Single-env facade: Gymnasium/SB3 contracts, truncation, bad input, determinism."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rise_env.envs import ImaginationEnv
from rise_env.spec import ActionChunkError

from .conftest import mid_actions


def test_gymnasium_and_sb3_checkers_pass(world_model, bank):
    env = ImaginationEnv(world_model, bank)
    check_env(env, skip_render_check=True)
    sb3_check_env(ImaginationEnv(world_model, bank, normalized_actions=True), warn=True, skip_render_check=True)


def test_step_returns_imagined_frames_and_advantage(world_model, bank):
    env = ImaginationEnv(world_model, bank, render_mode="rgb_array")
    obs, info = env.reset(seed=3)
    chunk = mid_actions(world_model.robot, 1, 4, shift=0.8)[0]
    obs2, reward, terminated, truncated, info = env.step(chunk)
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
    assert info["frames"].shape == (2, 3, 48, 64, 3) and info["frames"].dtype == np.uint8
    assert info["values"].shape == (2,)
    expected = np.clip(5 * (info["values"].mean() - info["value_t0"]), -1, 1)
    assert reward == pytest.approx(float(expected), abs=1e-6)
    assert 1 <= info["advantage_bin"] <= 10
    # The observation is the newest imagined frame; the state is the last commanded target.
    np.testing.assert_array_equal(obs2["top"], info["frames"][-1, 0])
    np.testing.assert_array_equal(obs2["state"], chunk[-1])
    assert env.render().shape == (48, 3 * 64, 3)


def test_truncates_after_max_chunks_then_needs_reset(world_model, bank):
    env = ImaginationEnv(world_model, bank, max_chunks=2)
    env.reset(seed=0)
    chunk = mid_actions(world_model.robot, 1, 4)[0]
    assert env.step(chunk)[3] is False
    assert env.step(chunk)[3] is True
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(chunk)


def test_bad_chunks_are_refused_and_change_nothing(world_model, bank):
    good = mid_actions(world_model.robot, 1, 4)[0]
    reference = ImaginationEnv(world_model, bank)
    reference.reset(seed=1)
    expected = reference.step(good)
    world_model.calls.clear()

    env = ImaginationEnv(world_model, bank)
    env.reset(seed=1)
    bad_inputs = [good[:3], good.astype(str), np.where(np.arange(14) == 2, np.nan, good), good + 10.0]
    for bad in bad_inputs:
        with pytest.raises((ActionChunkError, ValueError)):
            env.step(bad)
    assert world_model.calls == [] and env._vec._chunk_index[0] == 0
    # Nothing moved, not even the random stream: the next good step equals the reference run.
    obs, reward, *_ = env.step(good)
    np.testing.assert_array_equal(obs["top"], expected[0]["top"])
    assert reward == expected[1]


def test_step_before_reset_is_refused(world_model, bank):
    env = ImaginationEnv(world_model, bank)
    with pytest.raises(gymnasium.error.ResetNeeded, match="reset"):
        env.step(mid_actions(world_model.robot, 1, 4)[0])


def test_clip_actions_counts_clipped_values(world_model, bank):
    env = ImaginationEnv(world_model, bank, clip_actions=True)
    env.reset(seed=0)
    chunk = mid_actions(world_model.robot, 1, 4)[0]
    chunk[1, 6] = 0.5  # gripper beyond 0.07 m
    *_, info = env.step(chunk)
    assert info["n_clipped"] == 1
    assert world_model.calls[-1]["actions"][0, 1, 6] == pytest.approx(0.07)


def test_normalized_actions_map_onto_joint_limits(world_model, bank):
    env = ImaginationEnv(world_model, bank, normalized_actions=True)
    env.reset(seed=0)
    chunk = np.zeros((4, 14), np.float32)
    chunk[:, 0] = 1.0
    env.step(chunk)
    low, high = world_model.robot.action_limits()
    sent = world_model.calls[-1]["actions"][0]
    np.testing.assert_allclose(sent[:, 0], high[0], rtol=1e-6)
    np.testing.assert_allclose(sent[:, 1], (low[1] + high[1]) / 2, rtol=1e-6)


def test_same_seed_same_episode(world_model, bank):
    def run(seed):
        env = ImaginationEnv(world_model, bank)
        obs, _ = env.reset(seed=seed)
        out = env.step(mid_actions(world_model.robot, 1, 4, 0.3)[0])
        return obs, out

    (o1, s1), (o2, s2), (_, s3) = run(7), run(7), run(8)
    np.testing.assert_array_equal(o1["top"], o2["top"])
    np.testing.assert_array_equal(s1[0]["top"], s2[0]["top"])
    assert s1[1] == s2[1]
    assert not np.array_equal(s1[4]["frames"], s3[4]["frames"])

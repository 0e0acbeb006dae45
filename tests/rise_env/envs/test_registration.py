"""``gymnasium.make("RISE/BrickSorting-v0")`` / ``make_vec`` on a tiny, untrained asset folder."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import rise_env  # noqa: F401  (registers the envs)
from rise_env.assets.tiny import make_tiny_assets
from rise_env.envs import ImaginationEnv, ImaginationVectorEnv

ENV_ID = "RISE/BrickSorting-v0"


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    torch.set_num_threads(1)
    out = make_tiny_assets(tmp_path_factory.mktemp("tiny"), num_states=3)
    return {"world_model": str(out / "world_model"), "initial_states": str(out / "initial_states")}


def test_spec_is_registered_with_string_entry_points():
    spec = gym.spec(ENV_ID)
    assert spec.entry_point == "rise_env.envs.factory:make_brick_sorting_env"
    assert spec.vector_entry_point == "rise_env.envs.factory:make_brick_sorting_vector_env"
    assert spec.nondeterministic is False and spec.max_episode_steps is None
    assert "RISE/BackpackPacking-v0" not in gym.registry  # only what works is registered


def test_import_does_not_load_torch():
    code = "import sys, rise_env, gymnasium; gymnasium.spec('RISE/BrickSorting-v0'); " \
           "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_make_passes_the_env_checker(assets):
    env = gym.make(ENV_ID, **assets)
    assert isinstance(env.unwrapped, ImaginationEnv)
    assert env.action_space.shape == (10, 14) and set(env.observation_space.spaces) == {
        "top", "left_wrist", "right_wrist", "state"}
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert type(reward) is float and type(terminated) is bool and info["frames"].shape == (5, 3, 32, 32, 3)


def test_normalised_actions_and_render(assets):
    env = gym.make(ENV_ID, normalized_actions=True, render_mode="rgb_array", max_chunks=1, **assets)
    assert env.action_space.low.min() == -1 and env.action_space.high.max() == 1
    env.reset(seed=1)
    _, _, _, truncated, _ = env.step(np.zeros((10, 14), np.float32))
    assert truncated and env.render().shape == (32, 96, 3)


def test_seeded_stepping_is_deterministic(assets):
    runs = []
    for _ in range(2):
        env = gym.make(ENV_ID, **assets)
        obs, _ = env.reset(seed=5)
        env.action_space.seed(5)
        runs.append(env.step(env.action_space.sample())[0]["top"])
    np.testing.assert_array_equal(*runs)


def test_make_vec_uses_the_batched_env(assets):
    envs = gym.make_vec(ENV_ID, num_envs=2, **assets)
    assert isinstance(envs, ImaginationVectorEnv) and envs.num_envs == 2
    obs, _ = envs.reset(seed=0)
    assert obs["top"].shape == (2, 32, 32, 3)
    for _ in range(2):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert reward.shape == (2,) and truncated.all() and info["frames"].shape == (2, 5, 3, 32, 32, 3)


def test_bad_arguments_are_named(assets):
    with pytest.raises(TypeError, match="max_chunkz"):
        gym.make(ENV_ID, max_chunkz=3, **assets)
    with pytest.raises(FileNotFoundError, match="world_model"):
        gym.make(ENV_ID, world_model="/nonexistent/wm", initial_states=assets["initial_states"])


def test_every_world_model_setting_can_be_overridden_by_make(assets):
    envs = gym.make_vec(ENV_ID, num_envs=1, sample_steps=3, action_guidance_interval=(0.5, 1.0), **assets)
    config = envs.world_model.config
    assert config.sample_steps == 3 and config.action_guidance_interval == (0.5, 1.0)
    with pytest.raises(ValueError, match="needs a null action"):  # the tiny dynamics model has none
        gym.make(ENV_ID, action_guidance=3.0, **assets)

"""AgileXSimEnv through gymnasium.make (with the passive env checker), as a registered id would be."""

import gymnasium as gym
import numpy as np


def test_gym_make_sim_env_steps_and_closes_its_firmwares():
    env_id = "RISETest/AgileXSim-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point="rise_agents.envs.agilex.sim_rig:AgileXSimEnv")
    env = gym.make(env_id, chunk_horizon=10, feedback_timeout_s=1.0, image_height=48, image_width=64)
    try:
        obs, info = env.reset(seed=1)
        assert env.observation_space.contains(obs)
        chunk = np.tile(obs["state"], (10, 1))
        obs, reward, terminated, truncated, info = env.step(chunk)
        assert env.observation_space.contains(obs) and isinstance(reward, float)
        assert info["frames"].shape == (5, 3, 48, 64, 3)
        assert env.render().shape == (48, 64, 3)
    finally:
        env.close()
    assert all(fw._thread is None for fw in env.unwrapped.firmwares)

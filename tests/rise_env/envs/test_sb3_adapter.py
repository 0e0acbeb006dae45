"""SB3 sees the imagination vector env through `SB3VecEnv` (same-step autoreset)."""

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO, SAC

from rise_env.envs import ImaginationVectorEnv
from rise_env.envs.sb3 import SB3VecEnv


def make(world_model, bank, n=2, **kw):
    return SB3VecEnv(
        ImaginationVectorEnv(world_model, bank, num_envs=n, autoreset_mode="SameStep", normalized_actions=True, **kw)
    )


def test_adapter_requires_same_step_autoreset(world_model, bank):
    with pytest.raises(ValueError, match="SameStep"):
        SB3VecEnv(ImaginationVectorEnv(world_model, bank, num_envs=2))


def test_dones_carry_terminal_observation_and_time_limit_flag(world_model, bank):
    venv = make(world_model, bank, max_chunks=2)
    venv.seed(3)
    obs = venv.reset()
    assert obs["top"].shape == (2, 48, 64, 3)
    act = np.zeros((2, 4, 14), np.float32)
    _, _, dones, infos = venv.step(act)
    assert not dones.any() and "terminal_observation" not in infos[0]
    assert infos[0]["chunk_index"] == 1 and 1 <= infos[0]["advantage_bin"] <= 10
    obs, rewards, dones, infos = venv.step(act)
    assert dones.all() and rewards.dtype == np.float32
    assert infos[1]["TimeLimit.truncated"] is True
    assert infos[1]["terminal_observation"]["top"].shape == (48, 64, 3)
    assert infos[1]["chunk_index"] == 2  # from the finished episode, not the fresh one


def test_ppo_and_sac_update_on_the_env(world_model, bank):
    torch.manual_seed(0)
    ppo = PPO("MultiInputPolicy", make(world_model, bank), n_steps=8, batch_size=8, n_epochs=1, seed=0)
    before = [p.detach().clone() for p in ppo.policy.parameters()]
    ppo.learn(16)
    assert ppo.num_timesteps == 16
    assert any(not torch.equal(a, b) for a, b in zip(before, ppo.policy.parameters()))

    sac = SAC("MultiInputPolicy", make(world_model, bank, n=1), buffer_size=64, learning_starts=4, batch_size=4,
              seed=0)
    before = [p.detach().clone() for p in sac.actor.parameters()]
    sac.learn(8)
    assert sac.replay_buffer.pos == 8
    assert any(not torch.equal(a, b) for a, b in zip(before, sac.actor.parameters()))
    action, _ = sac.predict(make(world_model, bank, n=1).reset())
    assert action.shape == (1, 4, 14) and np.abs(action).max() <= 1.0

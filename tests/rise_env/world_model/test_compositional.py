"""The Compositional World Model on a real (tiny, untrained) dynamics model, stepped by the env."""

import numpy as np
import pytest
import torch

from rise_env.envs import ImaginationVectorEnv, InitialStateBank
from rise_env.models.dynamics import DynamicsModel
from rise_env.world_model.compositional import CompositionalWorldModel, WorldModelConfig


class BrightnessValue(torch.nn.Module):
    """Test double: the value of a frame is its mean brightness in [0, 1]."""

    def values(self, frames, instructions):
        assert frames.ndim == 5 and frames.dtype == torch.uint8 and len(instructions) == len(frames)
        assert set(instructions) <= {"sort", "pack"}
        return (frames.float().mean(dim=(1, 2, 3, 4)) / 255).numpy()  # numpy, like ValueModel.values


@pytest.fixture(scope="module")
def world_model():
    torch.manual_seed(0)
    dynamics = DynamicsModel.from_preset("tiny")
    return CompositionalWorldModel(
        dynamics, BrightnessValue(), WorldModelConfig(task_names=["sort", "pack"], sample_steps=2)
    )


def _inputs(wm, b=2, seed=0):
    rng = np.random.default_rng(seed)
    memory = rng.integers(0, 255, size=(b, 4, 3, 32, 32, 3), dtype=np.uint8)
    low, high = wm.robot.action_limits()
    actions = (low + (high - low) * rng.random((b, wm.chunk_size, 14))).astype(np.float32)
    return memory, actions[:, 0].copy(), actions, np.array([0, 1][:b]), np.array([11, 12][:b])


def test_chunk_is_scored_with_eq2(world_model):
    memory, state, actions, tasks, seeds = _inputs(world_model)
    out = world_model.imagine_chunk(memory, state, actions, tasks, seeds)
    assert out.frames.shape == (2, 5, 3, 32, 32, 3) and out.frames.dtype == np.uint8
    np.testing.assert_allclose(out.value_t0, memory[:, -1].reshape(2, -1).mean(1) / 255, rtol=1e-5)
    np.testing.assert_allclose(out.values, out.frames.reshape(2, 5, -1).mean(-1) / 255, rtol=1e-5)
    expected = np.clip(5 * (out.values.mean(1) - out.value_t0), -1, 1)
    np.testing.assert_allclose(out.advantage, expected, rtol=1e-5, atol=1e-6)
    assert ((out.advantage_bin >= 1) & (out.advantage_bin <= 10)).all()


def test_seeds_and_rows_are_independent(world_model):
    memory, state, actions, tasks, seeds = _inputs(world_model)
    a = world_model.imagine_chunk(memory, state, actions, tasks, seeds)
    single = world_model.imagine_chunk(memory[1:], state[1:], actions[1:], tasks[1:], seeds[1:])
    # equal up to rounding: batched float kernels may differ in the last bit, flipping a rare uint8
    # by one grey level (1 of 46,080 values seen); a row mixing with another changes far more
    diff = np.abs(a.frames[1].astype(int) - single.frames[0].astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    other = world_model.imagine_chunk(memory, state, actions, tasks, seeds + 100)
    assert not np.array_equal(a.frames, other.frames)


def test_bad_task_index_is_refused(world_model):
    memory, state, actions, _, seeds = _inputs(world_model)
    with pytest.raises(ValueError, match="task_index"):
        world_model.imagine_chunk(memory, state, actions, np.array([0, 2]), seeds)


def test_vector_env_runs_on_the_world_model(world_model):
    memory, state, actions, tasks, _ = _inputs(world_model, b=2)
    bank = InitialStateBank(memory, state, tasks, world_model.task_names, list(world_model.robot.camera_keys))
    env = ImaginationVectorEnv(world_model, bank, num_envs=2)
    obs, _ = env.reset(seed=0)
    assert obs["top"].shape == (2, 32, 32, 3)
    obs, rew, term, trunc, info = env.step(actions)
    assert info["frames"].shape == (2, 5, 3, 32, 32, 3)
    np.testing.assert_allclose(rew, info["advantage"], rtol=1e-6)
    np.testing.assert_array_equal(obs["right_wrist"], info["frames"][:, -1, 2])


def test_action_guidance_reaches_the_dynamics_model():
    torch.manual_seed(0)
    dynamics = DynamicsModel.from_preset("tiny", null_action=True)
    wm = CompositionalWorldModel(
        dynamics, BrightnessValue(), WorldModelConfig(task_names=["sort", "pack"], sample_steps=2, action_guidance=3.0)
    )
    memory, state, actions, tasks, seeds = _inputs(wm)
    out = wm.imagine_chunk(memory, state, actions, tasks, seeds)
    args = (torch.as_tensor(memory), torch.as_tensor(state), torch.as_tensor(actions))
    how = dict(steps=2, seeds=[int(s) for s in seeds], task_index=torch.as_tensor(tasks))
    np.testing.assert_array_equal(out.frames, dynamics.imagine(*args, **how, guidance=3.0).numpy())
    assert not np.array_equal(out.frames, dynamics.imagine(*args, **how).numpy())  # plain sampling


def test_action_guidance_interval_reaches_the_dynamics_model():
    torch.manual_seed(0)
    dynamics = DynamicsModel.from_preset("tiny", null_action=True)
    config = WorldModelConfig(
        task_names=["sort", "pack"], sample_steps=4, action_guidance=3.0, action_guidance_interval=(0.5, 1.0)
    )
    wm = CompositionalWorldModel(dynamics, BrightnessValue(), config)
    memory, state, actions, tasks, seeds = _inputs(wm)
    out = wm.imagine_chunk(memory, state, actions, tasks, seeds)
    how = dict(steps=4, seeds=[int(s) for s in seeds], task_index=torch.as_tensor(tasks), guidance=3.0)
    args = (torch.as_tensor(memory), torch.as_tensor(state), torch.as_tensor(actions))
    np.testing.assert_array_equal(out.frames, dynamics.imagine(*args, **how, guidance_interval=(0.5, 1.0)).numpy())
    assert not np.array_equal(out.frames, dynamics.imagine(*args, **how).numpy())  # every step guided
    with pytest.raises(ValueError, match="guidance interval"):
        WorldModelConfig(task_names=["sort"], action_guidance_interval=(0.5, 0.5))


def test_action_guidance_without_a_null_action_is_refused():
    dynamics = DynamicsModel.from_preset("tiny")
    with pytest.raises(ValueError, match="null action"):
        CompositionalWorldModel(dynamics, BrightnessValue(), WorldModelConfig(task_names=["sort"], action_guidance=2.0))

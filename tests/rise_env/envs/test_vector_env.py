"""Vector semantics: per-slot reset, autoreset modes, seeds, memory, uncertainty, SB3."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from rise_env.envs import ImaginationEnv, ImaginationVectorEnv
from rise_env.world_model import sparse_memory_indices

from .conftest import mid_actions


def test_spaces_and_metadata(world_model, bank):
    env = ImaginationVectorEnv(world_model, bank, num_envs=3)
    assert env.observation_space["top"].shape == (3, 48, 64, 3)
    assert env.action_space.shape == (3, 4, 14)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_finished_slot_resets_next_step_without_touching_others(world_model, bank):
    env = ImaginationVectorEnv(world_model, bank, num_envs=2, max_chunks=2)
    env.reset(seed=[10, 20])
    acts = mid_actions(world_model.robot, 2, 4, shift=0.5)
    env.step(acts)
    env.reset(options={"reset_mask": np.array([False, True])})  # slot 1 starts over (its stream continues)
    slot1_history = len(env._history[1])
    obs, rew, term, trunc, info = env.step(acts)
    assert trunc.tolist() == [True, False] and not term.any()
    before = {k: v[1].copy() for k, v in obs.items()}
    obs, rew, term, trunc, info = env.step(acts)
    # Slot 0 was autoreset: ignored action, zero reward, no frames; slot 1 kept its own episode.
    assert rew[0] == 0.0 and not info["_frames"][0] and info["_frames"][1]
    assert env._chunk_index.tolist() == [0, 2] and trunc.tolist() == [False, True]
    assert len(env._history[1]) == slot1_history + 2 * world_model.frames_per_chunk
    assert not np.array_equal(before["top"], obs["top"][1])
    assert len(world_model.calls[-1]["seeds"]) == 1  # only the live slot was imagined


def test_slots_match_independent_single_envs(world_model, bank):
    vec = ImaginationVectorEnv(world_model, bank, num_envs=3)
    vec.reset(seed=[1, 2, 3])
    acts = mid_actions(world_model.robot, 3, 4, shift=0.2)
    acts[1] = mid_actions(world_model.robot, 1, 4, shift=-0.6)[0]
    vobs, vrew, *_ = vec.step(acts)
    for i, seed in enumerate([1, 2, 3]):
        single = ImaginationEnv(world_model, bank)
        single.reset(seed=seed)
        sobs, srew, *_ = single.step(acts[i])
        np.testing.assert_array_equal(vobs["left_wrist"][i], sobs["left_wrist"])
        assert vrew[i] == pytest.approx(srew)


def test_seeds_reproduce_and_differ(world_model, bank):
    def run(seed):
        env = ImaginationVectorEnv(world_model, bank, num_envs=2)
        env.reset(seed=seed)
        return env.step(mid_actions(world_model.robot, 2, 4))

    a, b, c = run(5), run(5), run(6)
    np.testing.assert_array_equal(a[0]["top"], b[0]["top"])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[4]["frames"], c[4]["frames"])


def test_same_step_autoreset_reports_final_obs(world_model, bank):
    env = ImaginationVectorEnv(world_model, bank, num_envs=2, max_chunks=1, autoreset_mode="SameStep")
    env.reset(seed=0)
    obs, rew, term, trunc, info = env.step(mid_actions(world_model.robot, 2, 4, 0.4))
    assert trunc.all() and info["_final_obs"].all()
    final_top = info["final_obs"][0]["top"]
    np.testing.assert_array_equal(final_top, info["frames"][0, -1, 0])
    assert env._chunk_index.tolist() == [0, 0]
    assert any(np.array_equal(obs["top"][0], bank.memory[s, -1, 0]) for s in range(len(bank)))


def test_disabled_mode_requires_explicit_reset(world_model, bank):
    env = ImaginationVectorEnv(world_model, bank, num_envs=2, max_chunks=1, autoreset_mode="Disabled")
    env.reset(seed=0)
    env.step(mid_actions(world_model.robot, 2, 4))
    with pytest.raises(RuntimeError, match="reset_mask"):
        env.step(mid_actions(world_model.robot, 2, 4))
    env.reset(options={"reset_mask": np.array([True, True])})
    env.step(mid_actions(world_model.robot, 2, 4))


def test_memory_is_sparse_over_everything_imagined(world_model, bank):
    env = ImaginationVectorEnv(world_model, bank, num_envs=1, max_chunks=3)
    env.reset(seed=0, options={"initial_state_index": 2})
    acts = mid_actions(world_model.robot, 1, 4, 0.9)
    _, _, _, _, info1 = env.step(acts)
    env.step(acts)
    history = np.concatenate([bank.memory[2], info1["frames"][0]])  # 4 real + 2 imagined frames
    expected = history[sparse_memory_indices(len(history), 4)]
    np.testing.assert_array_equal(world_model.calls[-1]["memory"][0], expected)
    np.testing.assert_array_equal(world_model.calls[0]["memory"][0], bank.memory[2])


def test_uncertainty_samples_report_disagreement_and_truncate(world_model, bank):
    env = ImaginationVectorEnv(world_model, bank, num_envs=2, num_samples=3, max_chunks=5)
    env.reset(seed=0)
    _, _, _, trunc, info = env.step(mid_actions(world_model.robot, 2, 4))
    assert info["disagreement"].shape == (2,) and (info["disagreement"] > 0).all()
    assert info["advantage_samples"].shape == (2, 3) and not trunc.any()
    assert len(world_model.calls[-1]["seeds"]) == 6 and len(set(world_model.calls[-1]["seeds"][:3])) == 3
    strict = ImaginationVectorEnv(world_model, bank, num_envs=2, num_samples=3, disagreement_threshold=1e-6)
    strict.reset(seed=0)
    assert strict.step(mid_actions(world_model.robot, 2, 4))[3].all()


def test_bad_batch_shape_and_unknown_options(world_model, bank):
    env = ImaginationVectorEnv(world_model, bank, num_envs=2)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(mid_actions(world_model.robot, 2, 4))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\(2, 4, 14\)"):
        env.step(mid_actions(world_model.robot, 3, 4))
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"reset_maks": [True, True]})
    with pytest.raises(ValueError, match="initial_state_index"):
        env.reset(options={"initial_state_index": 99})

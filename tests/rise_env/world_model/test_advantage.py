"""Eq. 2 advantage, its bins, and the sparse memory rule."""

import numpy as np
import pytest
import torch

from rise_env.envs import InitialStateBank
from rise_env.world_model import advantage_to_bin, bin_center, chunk_advantage, sparse_memory_indices


def test_advantage_is_scaled_mean_gain_clamped():
    future = np.array([[0.5, 0.7], [0.2, 0.2], [0.9, 0.9]])
    now = np.array([0.5, 0.3, 0.1])
    adv = chunk_advantage(future, now, scale=5.0)
    np.testing.assert_allclose(adv, [0.5, -0.5, 1.0])
    torch_adv = chunk_advantage(torch.tensor(future), torch.tensor(now))
    np.testing.assert_allclose(torch_adv.numpy(), adv)
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        chunk_advantage(future[0], now)


def test_bins_are_uniform_over_minus_one_to_one():
    adv = np.array([-1.0, -0.95, -0.8, -0.0001, 0.0, 0.79, 0.8, 0.99, 1.0, 3.0])
    bins = advantage_to_bin(adv)
    assert bins.tolist() == [1, 1, 2, 5, 6, 9, 10, 10, 10, 10]
    assert advantage_to_bin(torch.tensor(adv)).tolist() == bins.tolist()
    centers = bin_center(np.arange(1, 11))
    assert advantage_to_bin(centers).tolist() == list(range(1, 11))
    assert centers[0] == pytest.approx(-0.9) and centers[-1] == pytest.approx(0.9)


def test_sparse_memory_keeps_newest_and_spreads():
    assert sparse_memory_indices(29, 4).tolist() == [0, 9, 19, 28]
    assert sparse_memory_indices(4, 4).tolist() == [0, 1, 2, 3]
    assert sparse_memory_indices(1, 4).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError):
        sparse_memory_indices(0, 4)


def test_initial_state_bank_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    memory = rng.integers(0, 255, size=(2, 4, 3, 8, 12, 3), dtype=np.uint8)
    bank = InitialStateBank(memory, rng.random((2, 14)), np.array([0, 1]), ["a", "b"], ["top", "l", "r"])
    bank.save(tmp_path / "bank")
    back = InitialStateBank.load(tmp_path / "bank")
    np.testing.assert_array_equal(back.memory, memory)
    np.testing.assert_array_equal(back.state, bank.state)
    assert back.task_names == ["a", "b"] and back.state.dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == ["bank"]  # no temp dirs left behind
    with pytest.raises(ValueError, match="task_index"):
        InitialStateBank(memory, bank.state, np.array([0, 2]), ["a", "b"], ["top", "l", "r"])
    with pytest.raises(ValueError, match="views"):
        InitialStateBank(memory, bank.state, np.array([0, 1]), ["a", "b"], ["top", "l"])
    with pytest.raises(FileNotFoundError, match="has no initial_states.safetensors"):
        InitialStateBank.load(tmp_path)

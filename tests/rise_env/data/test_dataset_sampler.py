"""Task-centric batch sampler: batch composition, determinism, DataLoader integration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rise_env.data import DynamicsWindowDataset, LeRobotDatasetReader, TaskCentricBatchSampler, WindowConfig


def _toy(n_eps=6, per_ep=30):
    ep = np.repeat(np.arange(n_eps), per_ep)
    task = ep % 3
    return ep, task


def test_batches_come_from_few_episodes_of_one_task():
    ep, task = _toy()
    s = TaskCentricBatchSampler(ep, batch_size=16, episodes_per_batch=2, tasks_per_batch=1, sample_task_index=task)
    batches = list(s)
    assert len(batches) == len(s) == -(-len(ep) // 16)
    for b in batches:
        assert len(b) == 16
        assert len(set(ep[b])) <= 2 and len(set(task[b])) == 1
        assert len(set(b)) == 16  # without replacement while episodes have enough samples
    counts = np.bincount([len(set(ep[b])) for b in batches])
    assert counts[2] == len(batches)  # every task has 2 episodes: both are used, 8 windows each


def test_episodes_across_tasks_and_small_episodes():
    ep = np.array([0] * 3 + [1] * 50 + [2] * 50)
    s = TaskCentricBatchSampler(ep, batch_size=12, episodes_per_batch=3, tasks_per_batch=None, num_batches=20, seed=3)
    for b in s:
        assert len(b) == 12 and len(set(ep[b])) <= 3
    single = TaskCentricBatchSampler(np.zeros(5, int), batch_size=8, episodes_per_batch=2)
    (b,) = list(single)
    assert len(b) == 8 and set(b) <= set(range(5))  # replacement once the episode runs out


def test_deterministic_under_seed_and_epoch():
    ep, task = _toy()
    a = TaskCentricBatchSampler(ep, 8, sample_task_index=task, seed=7)
    b = TaskCentricBatchSampler(ep, 8, sample_task_index=task, seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    assert list(TaskCentricBatchSampler(ep, 8, sample_task_index=task, seed=8)) != first


def test_bad_arguments():
    with pytest.raises(ValueError, match="non-empty"):
        TaskCentricBatchSampler(np.zeros(0, int), 4)
    with pytest.raises(ValueError, match=">= 1"):
        TaskCentricBatchSampler(np.zeros(4, int), 0)
    with pytest.raises(ValueError, match="sample_task_index"):
        TaskCentricBatchSampler(np.zeros(4, int), 2, sample_task_index=np.zeros(3, int))


def test_works_with_dataloader(written_dataset):
    ds = DynamicsWindowDataset(LeRobotDatasetReader(written_dataset[0]), WindowConfig(chunk=8, memory_frames=2))
    s = TaskCentricBatchSampler.from_dataset(ds, batch_size=6, episodes_per_batch=2, num_batches=3, seed=1)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=s, num_workers=0)
    batches = list(loader)
    assert len(batches) == 3
    for batch in batches:
        assert batch["memory_frames"].shape == (6, 2, 3, 32, 48, 3)
        assert batch["actions"].shape == (6, 8, 14)
        assert len(set(batch["episode_index"].tolist())) <= 2 and len(set(batch["task_index"].tolist())) == 1

"""Task-centric batching: every batch holds many windows from a few episodes of a few tasks.

Grouping a batch around ``episodes_per_batch`` episodes (default 2) of ``tasks_per_batch`` tasks
(default 1) makes the dynamics model compare many time steps of the same scene, and lets the
reader decode each episode's video once per batch. Use as ``DataLoader(ds, batch_sampler=sampler)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class TaskCentricBatchSampler(Sampler[list[int]]):
    """Batches of sample indices drawn from at most ``episodes_per_batch`` episodes.

    Args:
        sample_episode_index: ``(N,)`` episode of each sample (e.g. ``ds.sample_episode_index``).
        sample_task_index: ``(N,)`` task of each sample; None treats every episode as its own task.
        batch_size: samples per batch.
        episodes_per_batch: episodes per batch (fewer if the chosen tasks hold fewer).
        tasks_per_batch: tasks the episodes are drawn from; None draws episodes from all tasks.
        num_batches: batches per epoch; default ``ceil(N / batch_size)``.
        seed: base seed; the batches of an epoch depend only on ``(seed, epoch)``.

    Episodes (and tasks) are chosen with probability proportional to their number of samples; the
    batch is split evenly between the chosen episodes, drawing without replacement while an
    episode has enough samples.
    """

    def __init__(
        self,
        sample_episode_index: np.ndarray,
        batch_size: int,
        episodes_per_batch: int = 2,
        tasks_per_batch: int | None = 1,
        sample_task_index: np.ndarray | None = None,
        num_batches: int | None = None,
        seed: int = 0,
    ):
        ep = np.asarray(sample_episode_index, np.int64)
        if ep.ndim != 1 or len(ep) == 0:
            raise ValueError(f"sample_episode_index must be a non-empty 1-D array, got shape {ep.shape}")
        if batch_size < 1 or episodes_per_batch < 1 or (tasks_per_batch is not None and tasks_per_batch < 1):
            raise ValueError(
                f"batch_size, episodes_per_batch and tasks_per_batch must be >= 1, got "
                f"{batch_size}, {episodes_per_batch}, {tasks_per_batch}"
            )
        task = ep if sample_task_index is None else np.asarray(sample_task_index, np.int64)
        if task.shape != ep.shape:
            raise ValueError(f"sample_task_index has shape {task.shape}, expected {ep.shape}")
        self.batch_size = batch_size
        self.episodes_per_batch = episodes_per_batch
        self.tasks_per_batch = tasks_per_batch
        self.seed = seed
        self.epoch = 0
        self.num_samples = len(ep)
        self.num_batches = num_batches if num_batches is not None else -(-len(ep) // batch_size)
        self.episodes = np.unique(ep)
        self.samples_of = {int(e): np.flatnonzero(ep == e) for e in self.episodes}
        self.ep_size = np.array([len(self.samples_of[int(e)]) for e in self.episodes], np.float64)
        ep_task = np.array([task[self.samples_of[int(e)][0]] for e in self.episodes])
        self.tasks = np.unique(ep_task)
        self.episodes_of_task = {int(t): np.flatnonzero(ep_task == t) for t in self.tasks}
        self.task_size = np.array([self.ep_size[self.episodes_of_task[int(t)]].sum() for t in self.tasks])

    @classmethod
    def from_dataset(cls, dataset, batch_size: int, **kwargs) -> TaskCentricBatchSampler:
        """Build from a dataset exposing ``sample_episode_index`` and ``sample_task_index``."""
        return cls(dataset.sample_episode_index, batch_size, sample_task_index=dataset.sample_task_index, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (different batches per epoch, reproducible under the seed)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_batches

    def _choose(self, rng: np.random.Generator, candidates: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
        k = min(k, len(candidates))
        return rng.choice(candidates, size=k, replace=False, p=weights / weights.sum())

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        for _ in range(self.num_batches):
            if self.tasks_per_batch is None:
                cand = np.arange(len(self.episodes))
            else:
                tsel = self._choose(rng, np.arange(len(self.tasks)), self.task_size, self.tasks_per_batch)
                cand = np.concatenate([self.episodes_of_task[int(self.tasks[t])] for t in tsel])
            chosen = self._choose(rng, cand, self.ep_size[cand], self.episodes_per_batch)
            quotas = np.full(len(chosen), self.batch_size // len(chosen))
            quotas[: self.batch_size % len(chosen)] += 1
            batch: list[int] = []
            for e, q in zip(chosen, quotas, strict=True):
                pool = self.samples_of[int(self.episodes[e])]
                batch += rng.choice(pool, size=int(q), replace=bool(q > len(pool))).tolist()
            yield batch

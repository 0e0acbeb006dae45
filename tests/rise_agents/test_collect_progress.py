"""Collection reports each episode as soon as it finishes, and names the episode that failed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rise_agents.data_collection.runner import EpisodeJob, as_finished


def test_a_finished_episode_is_reported_while_another_still_runs():
    release = threading.Event()

    def slow() -> dict:
        release.wait(timeout=10)
        return {"episode_id": 1, "released": release.is_set()}

    with ThreadPoolExecutor(2) as pool:
        futures = {pool.submit(lambda: {"episode_id": 0}): EpisodeJob(0, "demo", 0),
                   pool.submit(slow): EpisodeJob(1, "demo", 1)}
        results = as_finished(futures)
        first = next(results)  # must not wait for the slow episode
        release.set()
        rest = list(results)
    assert first == {"episode_id": 0}
    assert rest == [{"episode_id": 1, "released": True}]  # it finished only after the first was reported


def test_a_failed_episode_is_named_and_the_unstarted_ones_are_cancelled():
    def fail() -> dict:
        raise ValueError("renderer lost")

    gate = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        failing = pool.submit(fail)
        running = pool.submit(gate.wait, 10)  # holds the single worker, so the last episode stays queued
        queued = pool.submit(lambda: {"episode_id": 9})
        jobs = {failing: EpisodeJob(7, "rollout", 107), running: EpisodeJob(8, "demo", 108),
                queued: EpisodeJob(9, "demo", 109)}
        with pytest.raises(RuntimeError, match=r"episode 7 \(rollout, seed 107\) failed: renderer lost"):
            list(as_finished(jobs))
        assert queued.cancelled()
        gate.set()

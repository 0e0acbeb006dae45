"""Asynchronous inference: a background policy keeps the plan alive, chunks blend without jumps."""

import time

import numpy as np
import pytest

from rise_agents.envs.agilex.async_runner import AsyncChunkRunner


class TickSine:
    """A policy whose chunk for a tick is a sinusoid of the absolute tick (so overlaps agree), with a
    deliberate offset per chunk so blending has something to smooth."""

    def __init__(self, env, horizon, centre, latency=0.02):
        self.env, self.horizon, self.centre, self.latency = env, horizon, centre, latency
        self.calls = 0

    def predict_chunk(self, obs):
        tick = self.env.current_tick
        time.sleep(self.latency)  # inference time: some predicted steps are already past on arrival
        t = (tick + np.arange(self.horizon)) / 30.0
        chunk = np.tile(self.centre, (self.horizon, 1))
        chunk[:, 0] += 0.1 * np.sin(2 * np.pi * 0.5 * t) + 0.01 * (self.calls % 2)
        self.calls += 1
        return chunk


def test_async_runner_keeps_the_plan_alive_and_smooth(make_rig):
    rig = make_rig(chunk_horizon=20)
    env = rig.env
    obs, _ = env.reset()
    policy = TickSine(env, 20, obs["state"].astype(np.float64))
    first_tick = env.current_tick
    with AsyncChunkRunner(env, policy, replan_every=8) as runner:
        time.sleep(1.2)
    assert runner.chunks >= 3 and runner.error is None
    ex = env.executor
    records = ex.window(first_tick + 3, ex.next_tick)
    cmds = np.stack([r.command for r in records])
    assert np.all(np.abs(np.diff(cmds[:, 0])) < 0.03)  # blended: far below the 0.05 rad/tick limit
    assert ex.safety.n_rate_limited == 0
    assert ex.hold_ticks <= 5  # the plan only ran out before the first chunk arrived
    with pytest.raises(ValueError, match="chunks must overlap"):
        AsyncChunkRunner(env, policy, replan_every=20)


def test_async_runner_reports_a_fault(make_rig):
    rig = make_rig(chunk_horizon=20, hold_before_disable_s=0.0)
    env = rig.env
    obs, _ = env.reset()
    runner = AsyncChunkRunner(env, TickSine(env, 20, obs["state"].astype(np.float64)), replan_every=8).start()
    time.sleep(0.2)
    env.emergency_stop("test stop")
    time.sleep(0.4)
    with pytest.raises(Exception, match="test stop"):
        runner.stop()

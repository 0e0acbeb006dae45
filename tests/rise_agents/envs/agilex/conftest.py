"""Fixtures for the AgileX tests: simulated rigs on unique virtual CAN channels, torn down after each test."""

import struct

import numpy as np
import pytest

from rise_agents.envs.agilex import BusSpy, SimRig

# Small, fast settings: short chunks (10 ticks = 0.33 s) and a quick hold before disabling. The feedback
# watchdog is relaxed to 1 s so a loaded machine never trips it by accident (150 ms did: a 2-core machine
# training beside the suite starved the simulated firmware for 407 ms); the watchdog tests set 50 ms.
FAST = dict(
    chunk_horizon=10, hold_before_disable_s=0.2, enable_timeout_s=3.0, camera_timeout_s=0.3, feedback_timeout_s=1.0
)


@pytest.fixture
def make_rig():
    """Factory: ``make_rig(**config_overrides)`` -> started ``SimRig``; every rig is closed at teardown."""
    rigs = []

    def factory(feedback_hz: float = 200.0, env_kwargs=None, **overrides) -> SimRig:
        rig = SimRig(feedback_hz=feedback_hz, env_kwargs=env_kwargs, **{**FAST, **overrides})
        rigs.append(rig)
        return rig

    yield factory
    for rig in rigs:
        rig.close()


MOTION_IDS = (0x155, 0x156, 0x157, 0x159)


class LimitChecker:
    """Check every motion frame on one arm's bus: joints/gripper within limits, per-tick change within
    the speed limit (with 1 unit of integer rounding)."""

    def __init__(self, cfg, arm_index: int):
        low, high = cfg.action_limits()
        step = cfg.max_step()
        sl = slice(7 * arm_index, 7 * arm_index + 7)
        self.low, self.high, self.step = low[sl], high[sl], step[sl]
        self.last: dict[int, tuple] = {}
        self.checked = 0

    def __call__(self, msg):
        aid, data = msg.arbitration_id, bytes(msg.data)
        if aid not in MOTION_IDS:
            return
        if aid == 0x159:
            um = struct.unpack(">i", data[:4])[0]
            values, idx, tol = [um / 1e6], [6], 1e-6
        else:
            pair = aid - 0x155
            a, b = struct.unpack(">ii", data[:8])
            values, idx, tol = [a * np.pi / 180000, b * np.pi / 180000], [2 * pair, 2 * pair + 1], 2e-5
        for v, i in zip(values, idx):
            assert self.low[i] - tol <= v <= self.high[i] + tol, f"frame 0x{aid:03X}: dim {i} = {v} beyond limits"
        prev = self.last.get(aid)
        if prev is not None:
            for v, p, i in zip(values, prev, idx):
                assert abs(v - p) <= self.step[i] + tol, f"frame 0x{aid:03X}: dim {i} jumped {v - p} in one tick"
        self.last[aid] = tuple(values)
        self.checked += 1


@pytest.fixture
def spies():
    """Factory ``spies(rig)`` -> [left BusSpy, right BusSpy] asserting limits on every frame; closed at teardown."""
    made = []

    def factory(rig):
        pair = [
            BusSpy(arm.can_interface, check=LimitChecker(rig.config, i)) for i, arm in enumerate(rig.config.arms)
        ]
        made.extend(pair)
        return pair

    yield factory
    for spy in made:
        spy.close()

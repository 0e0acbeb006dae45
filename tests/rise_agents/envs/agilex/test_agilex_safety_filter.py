"""The safety filter: clamping, per-tick speed limiting, refusal of non-finite commands."""

import numpy as np
import pytest

from rise_agents.envs.agilex.config import AgileXConfig, sim_config
from rise_agents.envs.agilex.safety import SafetyFilter, clamp_and_rate_limit


class RecordingArm:
    def __init__(self):
        self.sent = []

    def command(self, position):
        self.sent.append(np.array(position))


def _filter(cfg: AgileXConfig):
    low, high = cfg.action_limits()
    arms = [RecordingArm(), RecordingArm()]
    return SafetyFilter(arms, low, high, cfg.max_step()), arms, low, high


def test_clamp_and_rate_limit():
    low, high, step = np.array([-1.0, 0.0]), np.array([1.0, 0.07]), np.array([0.05, 0.01])
    out = clamp_and_rate_limit(np.array([5.0, 0.5]), np.array([0.98, 0.065]), low, high, step)
    np.testing.assert_allclose(out, [1.0, 0.07])
    out = clamp_and_rate_limit(np.array([-5.0, 0.0]), np.array([0.0, 0.05]), low, high, step)
    np.testing.assert_allclose(out, [-0.05, 0.04])


def test_filter_clamps_and_limits_speed_per_tick():
    cfg = sim_config("unused", max_joint_speed=1.5, max_gripper_speed=0.3)
    sf, arms, low, high = _filter(cfg)
    start = (low + high) / 2
    sf.reset(start)
    far = high + 1.0  # beyond every limit
    for _ in range(200):
        sf.send(far)
    sent = np.concatenate([np.stack(arms[0].sent), np.stack(arms[1].sent)], axis=1)
    assert np.all(sent <= high + 1e-12) and np.all(sent >= low - 1e-12)
    steps = np.abs(np.diff(np.vstack([start, sent]), axis=0))
    assert np.all(steps <= cfg.max_step() + 1e-12)
    assert steps[0, 0] == pytest.approx(1.5 / 30)  # joints: 0.05 rad per tick at 1.5 rad/s, 30 Hz
    assert steps[0, 6] == pytest.approx(0.3 / 30)  # gripper: 0.01 m per tick
    np.testing.assert_allclose(sent[-1], high)  # reached the limit, never beyond
    assert sf.n_clamped == 200 and sf.n_sent == 200


def test_filter_refuses_non_finite_and_wrong_shape():
    sf, arms, low, high = _filter(sim_config("unused"))
    sf.reset((low + high) / 2)
    bad = (low + high) / 2
    bad[3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        sf.send(bad)
    with pytest.raises(ValueError, match="shape"):
        sf.send(np.zeros(7))
    assert arms[0].sent == [] and arms[1].sent == []


def test_config_refuses_limits_wider_than_hardware():
    with pytest.raises(ValueError, match="hardware"):
        AgileXConfig(joint_limits=((-3.0, 3.0),) + AgileXConfig().joint_limits[1:])
    with pytest.raises(ValueError, match="hardware stroke"):
        AgileXConfig(gripper_limits=(0.0, 0.1))
    with pytest.raises(ValueError, match="own CAN interface"):
        sim_config("x").model_copy(update={}).__class__(
            arms=(sim_config("x").arms[0], sim_config("x").arms[0].model_copy(update={"name": "right"}))
        )
    tight = AgileXConfig(gripper_limits=(0.0, 0.05))
    assert tight.action_limits()[1][6] == pytest.approx(0.05)

"""Normalisation floors: a joint that never moves in the demos must not blow up other data."""

import numpy as np
import torch

from rise_agents.policies.normalize import NormStats, QuantileNormalizer
from rise_env.spec.robot import agilex_cobot_magic


def test_widened_grows_only_narrow_ranges_around_their_middle():
    q = QuantileNormalizer([0.0, -1e-4, 2.0], [1.0, 1e-4, 2.0], "actions")
    w = q.widened(0.1)
    np.testing.assert_allclose(w.q01, [0.0, -0.05, 1.95])
    np.testing.assert_allclose(w.q99, [1.0, 0.05, 2.05])
    x = torch.tensor([[0.5, 0.01, 2.0]], dtype=torch.float64)
    assert torch.allclose(w.unnormalize(w.normalize(x)), x)
    assert abs(float(q.normalize(x)[0, 1])) > 50 and abs(float(w.normalize(x)[0, 1])) < 1  # 100 → 0.2


def test_stats_widened_by_a_fraction_of_the_joint_limits():
    robot = agilex_cobot_magic()
    low, high = robot.action_limits()
    flat = NormStats(QuantileNormalizer(np.zeros(14), np.zeros(14), "state"),
                     QuantileNormalizer(np.zeros(14), np.zeros(14), "actions"))
    w = flat.widened(0.02, robot)
    np.testing.assert_allclose(w.actions.q99 - w.actions.q01, 0.02 * (np.asarray(high) - np.asarray(low)))
    wide = NormStats.from_robot(robot)
    np.testing.assert_array_equal(wide.widened(0.02, robot).actions.q01, wide.actions.q01)  # already wide: unchanged

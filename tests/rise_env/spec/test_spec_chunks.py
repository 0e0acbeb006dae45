"""The robot spec, the shared spaces and action-chunk validation."""

import numpy as np
import pytest

from rise_env.spec import (
    ARM_JOINT_LIMITS,
    ActionChunkError,
    action_chunk_space,
    agilex_cobot_magic,
    observation_space,
    validate_action_chunk,
)


@pytest.fixture
def robot():
    return agilex_cobot_magic()


def test_action_layout_matches_hardware_limits(robot):
    low, high = robot.action_limits()
    assert low.shape == high.shape == (14,)
    assert low.dtype == np.float32
    for arm_offset in (0, 7):
        for j, (lo, hi) in enumerate(ARM_JOINT_LIMITS):
            assert low[arm_offset + j] == pytest.approx(lo)
            assert high[arm_offset + j] == pytest.approx(hi)
        assert (low[arm_offset + 6], high[arm_offset + 6]) == pytest.approx((0.0, 0.07))
    assert robot.joint_names[6] == "left_gripper" and robot.joint_names[13] == "right_gripper"
    assert len(robot.joint_names) == robot.action_dim == 14


def test_observation_space_is_flat_dict_of_hwc_images(robot):
    space = observation_space(robot.with_resolution(96, 128))
    assert set(space.spaces) == {"top", "left_wrist", "right_wrist", "state"}
    assert space["top"].shape == (96, 128, 3) and space["top"].dtype == np.uint8
    assert space["state"].shape == (14,) and space["state"].dtype == np.float32
    assert space.contains(space.sample())


def test_action_chunk_space_bounds(robot):
    space = action_chunk_space(robot, 50)
    assert space.shape == (50, 14)
    low, high = robot.action_limits()
    np.testing.assert_array_equal(space.low[17], low)
    np.testing.assert_array_equal(space.high[0], high)
    norm = action_chunk_space(robot, 8, normalized=True)
    assert norm.low.min() == -1.0 and norm.high.max() == 1.0
    with pytest.raises(ValueError, match="horizon"):
        action_chunk_space(robot, 0)


def _mid_chunk(robot, horizon=4):
    low, high = robot.action_limits()
    return np.tile((low + high) / 2, (horizon, 1))


def test_valid_chunk_is_returned_as_a_fresh_float64_copy(robot):
    low, high = robot.action_limits()
    chunk = _mid_chunk(robot).astype(np.float32)
    out, n_clipped = validate_action_chunk(chunk, low, high, 4)
    assert n_clipped == 0 and out.dtype == np.float64
    np.testing.assert_allclose(out, chunk, rtol=0, atol=1e-7)
    out[0, 0] = 99.0
    assert chunk[0, 0] != 99.0


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c[:, :13], r"shape \(4, 14\)"),
        (lambda c: c[None], r"shape \(4, 14\)"),
        (lambda c: c.astype(complex), "real numeric dtype"),
        (lambda c: c.astype(str), "real numeric dtype"),
        (lambda c: np.where(np.arange(14) == 3, np.nan, c), "NaN/inf"),
        (lambda c: np.where(np.arange(14) == 5, np.inf, c), "NaN/inf"),
    ],
)
def test_bad_chunks_are_refused_with_clear_errors(robot, mutate, message):
    low, high = robot.action_limits()
    with pytest.raises(ActionChunkError, match=message):
        validate_action_chunk(mutate(_mid_chunk(robot)), low, high, 4)


def test_out_of_limit_chunk_is_refused_or_clipped(robot):
    low, high = robot.action_limits()
    chunk = _mid_chunk(robot)
    chunk[2, 6] = 0.5  # gripper far beyond 0.07 m
    chunk[3, 1] = -1.0  # j2 below 0
    with pytest.raises(ActionChunkError, match=r"step 2, dimension 6.*2 value\(s\) out of range"):
        validate_action_chunk(chunk, low, high, 4)
    out, n_clipped = validate_action_chunk(chunk, low, high, 4, clip=True)
    assert n_clipped == 2
    assert out[2, 6] == pytest.approx(0.07) and out[3, 1] == pytest.approx(0.0)
    assert np.all(out >= low) and np.all(out <= high)

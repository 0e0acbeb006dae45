"""Advantages of recorded chunks."""

import numpy as np
import pytest

from rise_env.world_model.labels import chunk_starts, recorded_chunk_advantages


def test_chunk_starts_keep_whole_chunks():
    assert chunk_starts(151, chunk=50, every=50).tolist() == [0, 50, 100]
    assert chunk_starts(150, chunk=50, every=50).tolist() == [0, 50]
    assert chunk_starts(40, chunk=50).tolist() == []


def test_advantage_uses_every_stride_frame_after_the_start():
    values = np.arange(101) / 100.0  # progress-like ramp
    adv = recorded_chunk_advantages(values, np.array([0, 50]), chunk=50, stride=2, scale=1.0)
    # mean of V(t+2..t+50 step 2) - V(t) = mean(2..50 step 2)/100 = 0.26
    np.testing.assert_allclose(adv, [0.26, 0.26])
    assert recorded_chunk_advantages(values[::-1].copy(), np.array([0]), scale=5.0)[0] == -1.0  # clamped
    with pytest.raises(ValueError, match="past the episode"):
        recorded_chunk_advantages(values, np.array([60]))
    values[10] = np.nan
    with pytest.raises(ValueError, match="missing"):
        recorded_chunk_advantages(values, np.array([0]))

"""Chunk execution in the evaluator: linear blending over the overlap (paper Sec. X-B)."""

from __future__ import annotations

import numpy as np
import pytest

from rise_agents.evaluation import ChunkExecutor


def test_first_chunk_runs_as_predicted():
    ex = ChunkExecutor(execute_steps=3)
    chunk = np.arange(16, dtype=np.float64).reshape(8, 2)
    np.testing.assert_array_equal(ex.next(chunk), chunk[:3].astype(np.float32))
    np.testing.assert_array_equal(ex.remainder, chunk[3:])


def test_overlap_weights_rise_linearly_from_zero_to_one():
    h, k = 10, 4
    ex = ChunkExecutor(execute_steps=k)
    old = np.zeros((h, 1))
    ex.next(old)
    new = np.ones((h, 1))
    plan = ex.plan(new)[:, 0]
    overlap = h - k
    # the weight of the new chunk over the overlap is exactly linspace(0, 1, overlap) ...
    np.testing.assert_allclose(plan[:overlap], np.linspace(0.0, 1.0, overlap))
    # ... and the new chunk alone afterwards
    np.testing.assert_allclose(plan[overlap:], 1.0)


def test_blend_is_continuous_at_both_ends():
    rng = np.random.default_rng(0)
    h, k = 12, 5
    ex = ChunkExecutor(execute_steps=k)
    old = np.cumsum(rng.normal(size=(h, 14)), axis=0)
    new = old + rng.normal(size=(h, 14)) * 3
    first = ex.next(old)
    second = ex.next(new)
    # start of the overlap: the old plan's next action, so no jump at the re-plan
    np.testing.assert_allclose(second[0], old[k], rtol=0, atol=1e-5)
    np.testing.assert_allclose(first[-1], old[k - 1], rtol=0, atol=1e-5)
    # end of the overlap: exactly the new chunk, and the new chunk is followed after it
    plan = ChunkExecutor(execute_steps=k)
    plan.remainder = old[k:]
    blended = plan.plan(new)
    overlap = h - k
    np.testing.assert_allclose(blended[overlap - 1], new[overlap - 1])
    np.testing.assert_allclose(blended[overlap:], new[overlap:])
    # every blended step lies between old and new
    w = np.linspace(0, 1, overlap)[:, None]
    np.testing.assert_allclose(blended[:overlap], (1 - w) * old[k:] + w * new[:overlap])


def test_no_blend_and_short_chunk():
    ex = ChunkExecutor(execute_steps=2, blend="none")
    ex.next(np.zeros((4, 1)))
    np.testing.assert_array_equal(ex.next(np.ones((4, 1))), np.ones((2, 1), np.float32))
    with pytest.raises(ValueError, match="execute_steps=5"):
        ChunkExecutor(execute_steps=5).next(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="blend"):
        ChunkExecutor(2, blend="cubic")  # type: ignore[arg-type]

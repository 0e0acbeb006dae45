"""Chunk blending maths (paper Sec. X-B linear cross-fade, ACT temporal ensembling) and the planners."""

import numpy as np
import pytest

from rise_agents.execution.blending import (
    SequentialPlanner,
    TemporalEnsemblePlanner,
    ensemble_weights,
    linear_blend,
    linear_blend_weights,
    make_planner,
    temporal_ensemble,
)


def test_linear_weights_rise_from_zero_to_one():
    w = linear_blend_weights(5)
    np.testing.assert_allclose(w, [0.0, 0.25, 0.5, 0.75, 1.0])
    assert np.all(np.diff(w) > 0)
    assert linear_blend_weights(0).shape == (0,)
    np.testing.assert_allclose(linear_blend_weights(1), [0.0])
    with pytest.raises(ValueError, match="overlap"):
        linear_blend_weights(-1)


def test_linear_blend_starts_on_old_plan_and_ends_on_new():
    old = np.zeros((4, 2))
    new = np.ones((6, 2)) * 3.0
    out = linear_blend(old, new)
    assert out.shape == (6, 2)
    np.testing.assert_allclose(out[:, 0], [0.0, 1.0, 2.0, 3.0, 3.0, 3.0])  # w = 0, 1/3, 2/3, 1 then new


def test_linear_blend_is_time_varying_interpolation():
    rng = np.random.default_rng(0)
    old, new = rng.normal(size=(7, 14)), rng.normal(size=(9, 14))
    out = linear_blend(old, new)
    w = np.linspace(0, 1, 7)[:, None]
    np.testing.assert_allclose(out[:7], (1 - w) * old + w * new[:7])
    np.testing.assert_allclose(out[7:], new[7:])
    # a longer old plan is cut to the new chunk's length
    assert linear_blend(rng.normal(size=(20, 14)), new).shape == (9, 14)
    with pytest.raises(ValueError, match="same D"):
        linear_blend(np.zeros((3, 2)), np.zeros((3, 3)))


def test_ensemble_weights_follow_act():
    w = ensemble_weights(4, k=0.01)
    raw = np.exp(-0.01 * np.arange(4))
    np.testing.assert_allclose(w, raw / raw.sum())
    assert w[0] > w[-1]  # positive k favours the oldest prediction
    assert ensemble_weights(3, k=-0.5)[0] < ensemble_weights(3, k=-0.5)[-1]
    with pytest.raises(ValueError):
        ensemble_weights(0)


def test_temporal_ensemble_weighted_mean():
    preds = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    out = temporal_ensemble(preds, k=0.01)
    w = np.exp(-0.01 * np.arange(3))
    np.testing.assert_allclose(out, (w[:, None] * preds).sum(0) / w.sum())
    np.testing.assert_allclose(out[1], 1.0)
    with pytest.raises(ValueError, match="oldest first"):
        temporal_ensemble(np.zeros(3))


def test_sequential_planner_blends_over_unexecuted_part():
    p = SequentialPlanner(blend=True)
    a = np.zeros((10, 1))
    p.submit(a, start_tick=100, next_tick=100)
    assert p.action_at(99) is None and p.end_tick() == 110
    # new chunk predicted for tick 103, arriving when tick 105 is next: rows for 103, 104 are dropped
    b = np.full((10, 1), 6.0)
    p.submit(b, start_tick=103, next_tick=105)
    # overlap: old ticks 105..109 (5 ticks) with new ticks 105..109
    got = np.array([p.action_at(t)[0] for t in range(105, 113)])
    np.testing.assert_allclose(got, [0.0, 1.5, 3.0, 4.5, 6.0, 6.0, 6.0, 6.0])
    assert p.action_at(113) is None and p.end_tick() == 113


def test_replace_planner_and_plan_gap():
    p = make_planner("none")
    p.submit(np.zeros((5, 1)), 0, 0)
    p.submit(np.ones((5, 1)), 2, 2)
    assert p.action_at(2)[0] == 1.0 and p.action_at(1) is None
    # linear planner after the old plan ran out: plain replacement
    q = make_planner("linear")
    q.submit(np.zeros((3, 1)), 0, 0)
    q.submit(np.ones((3, 1)), 10, 10)
    assert q.action_at(10)[0] == 1.0


def test_temporal_ensemble_planner_matches_manual_average():
    p = TemporalEnsemblePlanner(k=0.5)
    p.submit(np.zeros((4, 1)), 0, 0)
    p.submit(np.full((4, 1), 2.0), 2, 1)
    assert p.action_at(0)[0] == 0.0
    w = np.exp(-0.5 * np.arange(2))
    np.testing.assert_allclose(p.action_at(3)[0], (w * [0.0, 2.0]).sum() / w.sum())
    assert p.action_at(5)[0] == 2.0 and p.end_tick() == 6
    with pytest.raises(ValueError, match="unknown blending mode"):
        make_planner("cubic")

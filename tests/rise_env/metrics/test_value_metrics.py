"""Value metrics against hand-computed numbers (ties included) and the curve plot."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from rise_env.metrics.value import (
    EpisodeCurve,
    end_score,
    plot_value_curves,
    rankdata,
    roc_auc,
    spearman,
    value_metrics,
)


def test_rankdata_averages_ties():
    np.testing.assert_array_equal(rankdata([10, 20, 20, 5, 20]), [2, 4, 4, 1, 4])
    np.testing.assert_array_equal(rankdata([3.0, 3.0]), [1.5, 1.5])


def test_spearman_hand_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # no ties: 1 - 6·Σd² / (n(n²-1)); ranks y = 1,3,2,4,5 → Σd² = 2 → 1 - 12/120 = 0.9
    assert spearman([1, 2, 3, 4, 5], [1, 3, 2, 4, 5]) == pytest.approx(0.9)
    # ties: x ranks 1,2,3,4; y = [1,2,2,3] → ranks 1,2.5,2.5,4; Pearson of the ranks by hand
    rx, ry = np.array([1, 2, 3, 4.0]) - 2.5, np.array([1, 2.5, 2.5, 4]) - 2.5
    want = (rx * ry).sum() / math.sqrt((rx**2).sum() * (ry**2).sum())
    assert spearman([0, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(want)
    assert want == pytest.approx(4.5 / math.sqrt(5 * 4.5))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="equal length"):
        spearman([1, 2], [1, 2, 3])


def test_auc_hand_values_with_ties():
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 0.0
    # pairs (pos, neg): (0.5,0.5) tie ½, (0.5,0.2) 1, (0.7,0.5) 1, (0.7,0.2) 1 → 3.5 / 4
    assert roc_auc([0.5, 0.7, 0.5, 0.2], [True, True, False, False]) == pytest.approx(0.875)
    # all tied → ½
    assert roc_auc([0.3, 0.3, 0.3], [1, 0, 1]) == pytest.approx(0.5)
    # brute force on random data with many ties
    rng = np.random.default_rng(0)
    s, y = rng.integers(0, 4, 40).astype(float), rng.random(40) < 0.4
    pos, neg = s[y], s[~y]
    brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
    assert roc_auc(s, y) == pytest.approx(brute)
    assert math.isnan(roc_auc([0.1, 0.2], [1, 1]))


def test_end_score_and_value_metrics():
    ok = EpisodeCurve(np.array([0.0, 0.2, 0.5, 0.9]), np.arange(4), 4, True, 0)
    ok2 = EpisodeCurve(np.array([0.1, 0.1, 0.3, 0.8]), np.arange(4), 4, True, 1)  # tie inside
    bad = EpisodeCurve(np.array([0.0, 0.3, 0.1, -0.6]), np.arange(4), 4, False, 2)
    assert end_score(ok, 0.25) == pytest.approx(0.9)  # t/T >= 0.75 → only the last frame
    assert end_score(ok, 0.5) == pytest.approx(0.7)  # frames 2, 3
    m = value_metrics([ok, ok2, bad], end_fraction=0.25)
    rho2 = spearman([0.1, 0.1, 0.3, 0.8], [0, 1, 2, 3])
    assert m["spearman_progress"] == pytest.approx((1.0 + rho2) / 2)
    assert m["auc_success_failure"] == 1.0
    assert m["episodes"] == {"total": 3, "success": 2, "failure": 1}


def test_plot_value_curves_png(tmp_path):
    curves = [
        EpisodeCurve(np.linspace(0, 1, 30), np.arange(30), 30, True, 0),
        EpisodeCurve(np.linspace(0, -1, 20), np.arange(0, 40, 2), 40, False, 1),
        EpisodeCurve(np.array([0.2]), np.array([0]), 1, False, 2),
    ]
    path = plot_value_curves(curves, tmp_path / "curves.png")
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape[0] > 300 and img.shape[1] > 800
    green = (img[..., 1] > 140) & (img[..., 0] < 80)
    red = (img[..., 0] > 190) & (img[..., 1] < 80)
    assert green.sum() > 100 and red.sum() > 100

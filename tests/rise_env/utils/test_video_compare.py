"""compare_views: rows = views, columns = sources (e.g. real | imagined)."""

import numpy as np
import pytest

from rise_env.utils.video import compare_views


def test_compare_views_stacks_views_down_and_sources_across():
    real = np.stack([np.full((4, 6, 3), v, np.uint8) for v in (10, 20, 30)])
    out = compare_views(real, real + 100)
    assert out.shape == (12, 12, 3)
    assert out[0, 0, 0] == 10 and out[4, 0, 0] == 20 and out[11, 5, 0] == 30
    assert out[0, 6, 0] == 110 and out[11, 11, 0] == 130
    with pytest.raises(ValueError, match="column 1"):
        compare_views(real, real[:2])
    with pytest.raises(ValueError, match="at least one"):
        compare_views()

"""Tiling views and writing mp4s."""

import imageio.v2 as imageio
import numpy as np
import pytest

from rise_env.utils.video import tile_views, write_video


def test_tile_views_places_views_left_to_right():
    views = np.stack([np.full((4, 6, 3), v, np.uint8) for v in (10, 20, 30)])
    tiled = tile_views(views)
    assert tiled.shape == (4, 18, 3)
    assert tiled[0, 0, 0] == 10 and tiled[0, 6, 0] == 20 and tiled[0, 17, 0] == 30
    with pytest.raises(ValueError, match=r"\(V, H, W, 3\)"):
        tile_views(views[0])


def test_write_video_round_trip_and_refuses_empty(tmp_path):
    frames = [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(5)]
    path = write_video(tmp_path / "v.mp4", frames, fps=15)
    back = imageio.mimread(path)
    assert len(back) == 5 and back[0].shape == (32, 48, 3)
    assert abs(float(back[3].mean()) - 120) < 4
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "empty.mp4", [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]

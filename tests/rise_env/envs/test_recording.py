"""Value-curve strips and the imagined-chunk mp4 writer."""

import imageio.v2 as imageio
import numpy as np
import pytest

from rise_env.envs.recording import CURVE_COLOR, MARKER_COLOR, ImaginationVideoWriter, value_strip


def test_value_strip_marks_the_current_value_at_its_height():
    strip = value_strip(np.array([0.0, 0.5, 1.0]), upto=2, width=101, height=64)
    assert strip.shape == (64, 101, 3)
    marker_rows = np.flatnonzero((strip == MARKER_COLOR).all(-1).any(1))
    assert marker_rows.min() <= 3  # value 1.0 sits at the top
    curve_cols = np.flatnonzero((strip == CURVE_COLOR).all(-1).any(0))
    assert curve_cols.min() <= 3 and curve_cols.max() >= 90  # up to the marker
    early = value_strip(np.array([0.0, 0.5, 1.0]), upto=0, width=101, height=64)
    assert not (early == CURVE_COLOR).all(-1).any() and (early == MARKER_COLOR).all(-1).any()
    low_marker = np.flatnonzero((early == MARKER_COLOR).all(-1).any(1))
    assert low_marker.max() >= 60  # value 0.0 sits at the bottom


def test_writer_tiles_views_and_writes_mp4(tmp_path):
    writer = ImaginationVideoWriter(tmp_path / "out" / "imagined.mp4", strip_height=32)
    start = np.full((3, 48, 64, 3), 100, np.uint8)
    writer.add_start(start, 0.2)
    writer.add_chunk(np.full((4, 3, 48, 64, 3), 200, np.uint8), np.linspace(0.3, 0.9, 4))
    with pytest.raises(ValueError, match="3 values"):
        writer.add_chunk(np.zeros((2, 3, 48, 64, 3), np.uint8), np.zeros(3))
    video = writer.render()
    assert video.shape == (5, 48 + 32, 3 * 64, 3)
    path = writer.close()
    frames = imageio.mimread(path)
    assert len(frames) == 5 and frames[0].shape == (80, 192, 3)
    assert abs(float(frames[0][:48].mean()) - 100) < 4 and abs(float(frames[-1][:48].mean()) - 200) < 4
    assert [p.name for p in path.parent.iterdir()] == ["imagined.mp4"]

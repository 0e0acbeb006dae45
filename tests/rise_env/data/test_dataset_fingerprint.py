"""A dataset's fingerprint tells collections apart, and caches of one refuse another."""

from __future__ import annotations

import numpy as np
import pytest

from rise_env.data import LeRobotDatasetReader, LeRobotDatasetWriter
from rise_env.data.frames import SOURCE_NAME, ResizedFrames


def _write(root, dsutil, state_offset: float = 0.0):
    """Two episodes; ``state_offset`` shifts one state value of the second (a re-collection that diverged)."""
    writer = LeRobotDatasetWriter(root, dsutil.small_config())
    for i in range(2):
        ep = dsutil.make_episode(10, i)
        if i == 1:
            ep.states[7, 3] += state_offset
        writer.add_episode(ep)
    writer.finalize()
    return LeRobotDatasetReader(root)


@pytest.fixture(scope="module")
def collections(tmp_path_factory, dsutil):
    base = tmp_path_factory.mktemp("fingerprint")
    return {
        "a": _write(base / "a", dsutil),
        "same_as_a": _write(base / "same_as_a", dsutil),
        "diverged": _write(base / "diverged", dsutil, state_offset=1e-3),
    }


def test_the_fingerprint_depends_on_the_content_not_the_path(collections):
    a = collections["a"]
    assert len(a.fingerprint) == 64 and int(a.fingerprint, 16) >= 0  # sha256 hex
    assert a.fingerprint == collections["same_as_a"].fingerprint == LeRobotDatasetReader(a.root).fingerprint
    assert collections["diverged"].fingerprint != a.fingerprint  # one state value of one frame differs


def test_a_frame_cache_serves_only_the_collection_it_was_made_from(collections, tmp_path):
    a, diverged = collections["a"], collections["diverged"]
    cache = tmp_path / "cache"
    frames = ResizedFrames(a, (16, 24), cache).frames_at(1, np.array([0, 9]))
    assert frames.shape == (2, 3, 16, 24, 3)
    assert (cache / SOURCE_NAME).is_file()
    ResizedFrames(collections["same_as_a"], (16, 24), cache)  # equal content: the cache is shared
    with pytest.raises(ValueError, match=r"caches frames of another collection .*delete the folder"):
        ResizedFrames(diverged, (16, 24), cache)
    (cache / SOURCE_NAME).unlink()  # a cache of unknown origin is refused too, even for the right data
    with pytest.raises(ValueError, match=rf"holds cached frames but no {SOURCE_NAME}"):
        ResizedFrames(a, (16, 24), cache)

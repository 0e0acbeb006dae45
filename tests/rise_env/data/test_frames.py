"""Frames at a model's resolution: antialiased resize, per-episode .npy cache, windows read through it."""

from __future__ import annotations

import numpy as np
import pytest

from rise_env.data import DynamicsWindowDataset, LeRobotDatasetReader
from rise_env.data.frames import ResizedFrames, frames_at_size, resize_frames


@pytest.fixture(scope="module")
def reader(written_dataset):
    return LeRobotDatasetReader(written_dataset[0], cache_episodes=2)


def test_resize_keeps_constant_images_and_is_a_no_op_at_size():
    frames = np.full((2, 4, 3, 48, 64, 3), 77, np.uint8)
    out = resize_frames(frames, 32, 32)
    assert out.shape == (2, 4, 3, 32, 32, 3) and out.dtype == np.uint8 and (out == 77).all()
    assert resize_frames(out, 32, 32) is out


def test_resize_averages_instead_of_aliasing():
    stripes = np.zeros((1, 16, 16, 3), np.uint8)
    stripes[:, :, ::2] = 255  # one-pixel stripes: a 2x downsample without antialiasing keeps one phase only
    inner = resize_frames(stripes, 8, 8)[:, :, 1:-1].astype(int)  # the border columns see one neighbour
    assert np.abs(inner - 128).max() <= 2


def test_native_resolution_needs_no_resizing(reader):
    assert reader.resolution == (32, 48)
    assert frames_at_size(reader, (32, 48)) is None
    assert isinstance(frames_at_size(reader, (16, 24)), ResizedFrames)


def test_cached_frames_equal_resized_decodes(reader, tmp_path):
    cached = ResizedFrames(reader, (16, 24), tmp_path / "cache")
    direct = ResizedFrames(reader, (16, 24))
    idx = np.array([0, 5, 5, 19])
    got = cached.frames_at(0, idx)
    assert got.shape == (4, 3, 16, 24, 3) and got.dtype == np.uint8 and got.flags.writeable
    np.testing.assert_array_equal(got, direct.frames_at(0, idx))
    np.testing.assert_array_equal(got, resize_frames(reader.frames_at(0, idx), 16, 24))
    path = cached.cache_path(0)
    assert path.name == "episode_000000_top-left_wrist-right_wrist_16x24.npy"
    assert np.load(path, allow_pickle=False).shape == (20, 3, 16, 24, 3)
    assert sorted(p.name for p in path.parent.iterdir()) == ["dataset.json", path.name]  # no temporary file
    with pytest.raises(IndexError, match=r"\[0, 20\)"):
        cached.frames_at(0, np.array([20]))


def test_a_stale_cache_file_is_refused_by_name(reader, tmp_path):
    frames = ResizedFrames(reader, (16, 24), tmp_path)
    np.save(frames.cache_path(2), np.zeros((3, 3, 16, 24, 3), np.uint8))
    with pytest.raises(ValueError, match=r"episode_000002.*expected uint8 \(12, 3, 16, 24, 3\).*delete"):
        frames.frames_at(2, np.array([0]))


def test_prepare_fills_the_cache_for_the_given_episodes(reader, tmp_path):
    frames = ResizedFrames(reader, (16, 24), tmp_path)
    frames.prepare([1, 3], progress=False)
    assert sorted(p.name[:14] for p in tmp_path.glob("*.npy")) == ["episode_000001", "episode_000003"]


def test_windows_read_frames_at_the_model_resolution(reader, tmp_path, dsutil):
    native = DynamicsWindowDataset(reader)
    small = DynamicsWindowDataset(reader, frames=ResizedFrames(reader, (16, 24), tmp_path))
    a, b = native[30], small[30]
    assert b["memory_frames"].shape == (4, 3, 16, 24, 3) and b["future_frames"].shape == (25, 3, 16, 24, 3)
    np.testing.assert_array_equal(b["future_frames"].numpy(), resize_frames(a["future_frames"].numpy(), 16, 24))
    np.testing.assert_array_equal(b["actions"].numpy(), a["actions"].numpy())


def test_cameras_choose_the_order_and_unknown_ones_are_named(reader, tmp_path):
    plain = ResizedFrames(reader, (16, 24)).frames_at(1, np.array([3]))
    order = ("right_wrist", "top")
    for cache in (None, tmp_path):
        got = ResizedFrames(reader, (16, 24), cache, cameras=order).frames_at(1, np.array([3]))
        np.testing.assert_array_equal(got, plain[:, [2, 0]])
    with pytest.raises(ValueError, match=r"cameras \['front'\] are missing"):
        ResizedFrames(reader, (16, 24), cameras=("top", "front"))


def test_frames_resized_another_way_never_share_a_cache_file(reader, tmp_path):
    """The policies pad to keep the aspect ratio, the dynamics model stretches: one folder, two files."""
    from rise_agents.algos.data import resize_frames as pad_resize

    stretched = ResizedFrames(reader, (16, 16), tmp_path)
    padded = ResizedFrames(reader, (16, 16), tmp_path, resize=pad_resize, resize_name="pad")
    a, b = stretched.frames_at(0, np.array([4])), padded.frames_at(0, np.array([4]))  # both cached
    assert stretched.cache_path(0) != padded.cache_path(0) and padded.cache_path(0).name.endswith("_16x16_pad.npy")
    assert (b[..., :2, :, :] == 0).all() and not (a[..., :2, :, :] == 0).all()  # padding rows vs image rows
    np.testing.assert_array_equal(ResizedFrames(reader, (16, 16), tmp_path).frames_at(0, np.array([4])), a)
    for name in (None, "", "a/b"):
        with pytest.raises(ValueError, match="custom resize needs a resize_name"):
            ResizedFrames(reader, (16, 16), tmp_path, resize=pad_resize, resize_name=name)
    with pytest.raises(ValueError, match="names a custom resize, but no resize was given"):
        ResizedFrames(reader, (16, 16), tmp_path, resize_name="pad")  # would silently share the stretched files

"""The flow-EPE floor benchmark: its degradations score as their definitions say on a moving texture,
and its VAE round trip of frames alone really encodes each frame without the others. (Its early
futures are ``DynamicsWindowDataset.future_frames(i, later)``, tested with the dataset.)"""

import numpy as np
import pytest
import torch

from rise_env.metrics import dense_flow
from rise_env.models.dynamics import DynamicsModel


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script("benchmarks/flow_epe_floor.py")


def _panning_texture(frames: int = 6, shift: int = 2) -> np.ndarray:
    """(T, 48, 64, 3) uint8: a smooth random texture sliding ``shift`` px right per frame."""
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (12, 40, 3)).astype(np.float32)
    big = np.kron(big, np.ones((4, 4, 1)))  # 48 x 160 blocks of 4 px
    return np.stack([big[:, 80 - shift * t : 144 - shift * t] for t in range(frames)]).astype(np.uint8)


def test_degradations_score_as_defined(bench):
    clip = _panning_texture()
    figures = bench.degradation_figures(bench.RealClips([clip]))
    assert list(figures) == [
        "still",
        "resize_half",
        "blur_1px",
        "jpeg_50",
        "noise_4",
        "shift_1px",
        "global_affine_warp",
    ]
    real_speed = np.linalg.norm(dense_flow(clip), axis=-1).mean()
    assert figures["still"]["epe"] == pytest.approx(real_speed, rel=1e-2)  # a still clip has (almost) no flow
    assert figures["noise_4"]["psnr"] == pytest.approx(20 * np.log10(255 / 4), abs=0.3)
    assert figures["still"]["speed_ratio"] == pytest.approx(0.0, abs=0.01)
    assert figures["blur_1px"]["speed_ratio"] == pytest.approx(1.0, abs=0.1)  # blurred, it moves as fast
    for name in ("resize_half", "blur_1px", "jpeg_50", "noise_4"):
        assert figures[name]["epe"] < 0.1 * figures["still"]["epe"], name  # the motion survives frame damage
        assert figures[name]["psnr"] > figures["still"]["psnr"] + 5, name
    # a pan is a global motion: moved one pixel, or re-created from the first frame, it keeps its flow
    for name in ("shift_1px", "global_affine_warp"):
        assert figures[name]["epe"] < 0.05 * figures["still"]["epe"], name
        assert figures[name]["speed_ratio"] == pytest.approx(1.0, abs=0.02), name


def test_global_affine_recovers_a_known_motion(bench):
    ys, xs = np.mgrid[0:24, 0:32].astype(np.float64)
    affine = np.array([[1.02, 0.01, 0.7], [-0.01, 0.98, -0.4], [0.0, 0.0, 1.0]])
    points = np.stack([xs, ys, np.ones_like(xs)], axis=-1)  # (24, 32, 3)
    flow = points @ affine[:2].T - points[..., :2]  # where each pixel goes, minus where it is
    np.testing.assert_allclose(bench._global_affine(flow.astype(np.float32)), affine, atol=1e-5)


def test_vae_round_trip_of_frames_alone_has_no_temporal_context(bench):
    torch.manual_seed(0)
    model = DynamicsModel.from_preset("tiny").eval()  # temporal ratio 2: future latent frames (0), (1, 2), (3, 4)
    rng = np.random.default_rng(0)
    future = rng.integers(0, 256, (5, 3, 32, 32, 3), dtype=np.uint8)
    changed = future.copy()
    changed[4] = 255 - changed[4]
    before, after = bench.vae_round_trips(model, future), bench.vae_round_trips(model, changed)
    assert before["clip"].shape == before["frames alone"].shape == future.shape
    assert before["clip"].dtype == np.uint8
    for k in range(4):  # encoded alone, the other frames do not see frame 4
        assert np.array_equal(before["frames alone"][k], after["frames alone"][k]), k
    assert not np.array_equal(before["clip"][3], after["clip"][3])  # in a clip, frame 3 shares frame 4's latent

"""PSNR / SSIM / flow EPE / controllability against known values."""

import math

import cv2
import numpy as np
import pytest
import torch

from rise_env.metrics import (
    controllability_ratio,
    controllability_score,
    cosine_of_flows,
    dense_flow,
    epe_of_flows,
    flow_cosine,
    flow_epe,
    flow_speed,
    psnr,
    ssim,
)


def _texture(h=96, w=128, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return np.repeat(img[..., None], 3, axis=-1).astype(np.uint8)


def test_psnr_identical_is_inf_and_known_mse():
    a = torch.full((2, 8, 8, 3), 100, dtype=torch.uint8)
    assert torch.isinf(psnr(a, a)).all()
    b = a.clone()
    b[0] += 10  # MSE 100 -> 10 log10(255^2 / 100)
    assert float(psnr(b, a)[0]) == pytest.approx(10 * math.log10(255**2 / 100))


def test_ssim_identical_is_one_and_drops_with_noise():
    img = _texture()
    assert float(ssim(img, img)) == pytest.approx(1.0)
    noisy = np.clip(img.astype(np.int16) + np.random.default_rng(1).integers(-40, 40, img.shape), 0, 255).astype(
        np.uint8
    )
    s = float(ssim(noisy, img))
    assert 0.0 < s < 0.9
    assert float(ssim(noisy, img)) == pytest.approx(float(ssim(img, noisy)))


def test_ssim_matches_the_closed_form_for_constant_images():
    a = np.full((16, 16, 1), 100.0)
    b = np.full((16, 16, 1), 150.0)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 150 + c1) / (100**2 + 150**2 + c1)  # zero variance: luminance term only
    assert float(ssim(a, b)) == pytest.approx(expected, rel=1e-9)


def test_ssim_refuses_mismatched_or_tiny_images():
    with pytest.raises(ValueError, match="same shape"):
        ssim(np.zeros((16, 16, 3)), np.zeros((16, 17, 3)))
    with pytest.raises(ValueError, match="smaller than"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))


def test_farneback_epe_recovers_a_known_shift():
    base = _texture(seed=2)
    shift = 2
    moving = np.stack([np.roll(base, shift * k, axis=1) for k in range(4)])
    still = np.stack([base] * 4)
    flow = dense_flow(moving)[:, 16:-16, 16:-16]  # away from the wrap-around border
    assert np.median(flow[..., 0]) == pytest.approx(shift, abs=0.1)
    assert np.median(np.abs(flow[..., 1])) < 0.1
    assert flow_epe(still, still) == pytest.approx(0.0, abs=1e-6)
    assert flow_epe(moving, still) == pytest.approx(shift, abs=0.35)


def test_flow_speed_measures_how_fast_a_clip_moves():
    base = _texture(seed=3)
    fast = np.stack([np.roll(base, 2 * k, axis=1) for k in range(4)])
    slow = np.stack([np.roll(base, k, axis=1) for k in range(4)])
    assert flow_speed(fast) == pytest.approx(2.0, abs=0.2)
    assert flow_speed(slow) == pytest.approx(1.0, abs=0.1)
    assert flow_speed(np.stack([base] * 4)) == pytest.approx(0.0, abs=1e-2)


def test_flow_cosine_tells_the_direction_of_motion_apart_from_its_speed():
    base = _texture(seed=4)

    def clip(dx, dy):
        return np.stack([np.roll(base, (dy * k, dx * k), axis=(0, 1)) for k in range(4)])

    right = clip(2, 0)
    assert flow_cosine(clip(1, 0), right) == pytest.approx(1.0, abs=0.05)  # half as fast, the same way
    assert flow_cosine(clip(-2, 0), right) == pytest.approx(-1.0, abs=0.05)
    assert flow_cosine(clip(0, 2), right) == pytest.approx(0.0, abs=0.05)
    assert flow_cosine(np.stack([base] * 4), right) == pytest.approx(0.0, abs=0.01)  # a still clip points nowhere
    assert math.isnan(cosine_of_flows(np.ones((1, 8, 8, 2)), np.zeros((1, 8, 8, 2))))  # no real motion, no direction
    with pytest.raises(ValueError, match="same shape"):
        flow_cosine(right, right[:3])


def test_flow_figures_refuse_flows_of_other_shapes():
    flow = np.zeros((3, 8, 8, 2))
    for fn in (epe_of_flows, cosine_of_flows):
        with pytest.raises(ValueError, match=r"\(T-1, H, W, 2\)"):
            fn(flow, flow[:1])  # numpy alone would broadcast it to a wrong figure
        with pytest.raises(ValueError, match=r"\(T-1, H, W, 2\)"):
            fn(flow[..., 0], flow[..., 0])  # not a flow


def test_controllability_ratio_and_score():
    assert controllability_ratio([1.0, 3.0], [4.0, 4.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive"):
        controllability_ratio(1.0, 0.0)
    real = torch.zeros(4, 5)
    score = controllability_score(real + 0.1, real + 1.0, real)
    assert score["ratio"] == pytest.approx(0.01)

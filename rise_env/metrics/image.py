"""PSNR and Gaussian-window SSIM (Wang et al. 2004) in torch, for uint8 or float images.

Images are ``(..., H, W, C)`` (channels last, as the envs return them); uint8 is read as [0, 255].
Both functions return one value per leading index (``(...)``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _as_float(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    t = torch.as_tensor(x)
    return t.to(torch.float64)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.ndim < 3:
        raise ValueError(f"images must be (..., H, W, C), got shape {tuple(a.shape)}")


def psnr(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, data_range: float = 255.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image ``(...)``; ``inf`` where the images are identical."""
    a, b = _as_float(pred), _as_float(target)
    _check_pair(a, b)
    mse = (a - b).pow(2).mean(dim=(-3, -2, -1))
    return 10.0 * torch.log10(data_range**2 / mse)  # mse == 0 -> inf


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    pred: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    data_range: float = 255.0,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Mean SSIM per image ``(...)``: 11x11 Gaussian window (sigma 1.5), valid region, averaged over
    channels. 1 for identical images."""
    a, b = _as_float(pred), _as_float(target)
    _check_pair(a, b)
    lead = a.shape[:-3]
    h, w, c = a.shape[-3:]
    if h < window or w < window:
        raise ValueError(f"images of {h}x{w} are smaller than the {window}x{window} SSIM window")
    x = a.reshape(-1, h, w, c).permute(0, 3, 1, 2).reshape(-1, 1, h, w)
    y = b.reshape(-1, h, w, c).permute(0, 3, 1, 2).reshape(-1, 1, h, w)
    g = _gaussian_window(window, sigma)

    def blur(z: torch.Tensor) -> torch.Tensor:
        z = F.conv2d(z, g.view(1, 1, 1, -1))
        return F.conv2d(z, g.view(1, 1, -1, 1))

    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    per = smap.mean(dim=(-2, -1)).reshape(-1, c).mean(-1)
    return per.reshape(lead)

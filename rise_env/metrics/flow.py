"""Optical-flow end-point error between imagined and real videos (OpenCV Farneback dense flow).

For each pair of consecutive frames the dense flow of the imagined clip is compared with the flow
of the real clip; EPE is the mean Euclidean distance between the two flow vectors (pixels/frame).
"""

from __future__ import annotations

import cv2
import numpy as np

# Farneback parameters (pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags).
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


def _gray(frame: np.ndarray) -> np.ndarray:
    f = np.asarray(frame)
    if f.dtype != np.uint8:
        f = np.clip(f, 0, 255).astype(np.uint8)
    return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if f.ndim == 3 else f


def dense_flow(video: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` or ``(T, H, W)`` frames -> ``(T-1, H, W, 2)`` Farneback flow (dx, dy) in pixels."""
    v = np.asarray(video)
    if v.ndim not in (3, 4) or v.shape[0] < 2:
        raise ValueError(f"video must be (T>=2, H, W[, 3]), got shape {v.shape}")
    grays = [_gray(f) for f in v]
    return np.stack([cv2.calcOpticalFlowFarneback(a, b, None, *FARNEBACK) for a, b in zip(grays[:-1], grays[1:])])


def flow_epe(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean end-point error between the flows of two ``(T, H, W, 3)`` clips (pixels per frame)."""
    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape:
        raise ValueError(f"clips must have the same shape, got {p.shape} and {t.shape}")
    return epe_of_flows(dense_flow(p), dense_flow(t))


def flow_speed(video: np.ndarray) -> float:
    """Mean dense-flow speed of a ``(T, H, W[, 3])`` clip, in pixels per frame (~0 for a still clip).

    Next to EPE it tells a too-static clip (damped or frozen motion: slower than the real one) from
    one whose motion goes the wrong way.
    """
    return speed_of_flow(dense_flow(video))


def epe_of_flows(flow: np.ndarray, target_flow: np.ndarray) -> float:
    """:func:`flow_epe` from flows already computed by :func:`dense_flow` (``(T-1, H, W, 2)`` each)."""
    return float(np.linalg.norm(flow - target_flow, axis=-1).mean())


def speed_of_flow(flow: np.ndarray) -> float:
    """:func:`flow_speed` from a flow already computed by :func:`dense_flow`."""
    return float(np.linalg.norm(flow, axis=-1).mean())

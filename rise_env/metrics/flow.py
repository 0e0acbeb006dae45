"""Optical-flow end-point error between imagined and real videos (OpenCV Farneback dense flow).

For each pair of consecutive frames the dense flow of the imagined clip is compared with the flow
of the real clip; EPE is the mean Euclidean distance between the two flow vectors (pixels/frame).
"""

from __future__ import annotations

import cv2
import numpy as np

# Farneback parameters (pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags).
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)
# Flow slower than this (pixels/frame) is too slow to have a direction in :func:`cosine_of_flows`.
MIN_SPEED = 0.1


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


def _flows_of_pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense flows of two clips of the same ``(T, H, W[, 3])`` shape."""
    p, t = np.asarray(pred), np.asarray(target)
    if p.shape != t.shape:
        raise ValueError(f"clips must have the same shape, got {p.shape} and {t.shape}")
    return dense_flow(p), dense_flow(t)


def _check_flow_pair(flow: np.ndarray, target_flow: np.ndarray) -> None:
    """Raise unless both are flows of one shape ``(T-1, H, W, 2)``."""
    if flow.shape != target_flow.shape or flow.ndim != 4 or flow.shape[-1] != 2:
        raise ValueError(f"flows must both be (T-1, H, W, 2), got {flow.shape} and {target_flow.shape}")


def flow_epe(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean end-point error between the flows of two ``(T, H, W, 3)`` clips (pixels per frame)."""
    return epe_of_flows(*_flows_of_pair(pred, target))


def flow_speed(video: np.ndarray) -> float:
    """Mean dense-flow speed of a ``(T, H, W[, 3])`` clip, in pixels per frame (~0 for a still clip).

    Next to EPE it tells a too-static clip (damped or frozen motion: slower than the real one) from
    one whose motion goes the wrong way.
    """
    return speed_of_flow(dense_flow(video))


def flow_cosine(pred: np.ndarray, target: np.ndarray) -> float:
    """How well the motion of a ``(T, H, W, 3)`` clip points the real clip's way (see :func:`cosine_of_flows`)."""
    return cosine_of_flows(*_flows_of_pair(pred, target))


def epe_of_flows(flow: np.ndarray, target_flow: np.ndarray) -> float:
    """:func:`flow_epe` from flows already computed by :func:`dense_flow` (``(T-1, H, W, 2)`` each)."""
    _check_flow_pair(flow, target_flow)
    return float(np.linalg.norm(flow - target_flow, axis=-1).mean())


def speed_of_flow(flow: np.ndarray) -> float:
    """:func:`flow_speed` from a flow already computed by :func:`dense_flow`."""
    return float(np.linalg.norm(flow, axis=-1).mean())


def cosine_of_flows(flow: np.ndarray, target_flow: np.ndarray) -> float:
    """Real-speed-weighted mean cosine between two ``(T-1, H, W, 2)`` flows, in [-1, 1].

    ``sum(|r| cos(f, r)) / sum(|r|)`` over every pixel and transition: 1 when the motion goes the real
    way wherever the real clip moves (whatever its speed), about 0 for motion unrelated to the real one
    and for a still clip. Pixels the real clip barely moves weigh little, and ``f`` slower than
    ``MIN_SPEED`` counts in proportion to its speed, so Farneback's sub-pixel noise on still regions
    gives no direction. EPE, which also counts speed, is the figure to meet; this one says why it is missed.
    NaN when the target does not move at all.
    """
    _check_flow_pair(flow, target_flow)
    speed, real_speed = np.linalg.norm(flow, axis=-1), np.linalg.norm(target_flow, axis=-1)
    total = float(real_speed.sum())
    if total == 0.0:  # e.g. blank frames: the real motion has no direction
        return float("nan")
    along = (flow * target_flow).sum(-1) / np.maximum(speed, MIN_SPEED)  # |r| cos(f, r) where f moves
    return float(along.sum() / total)

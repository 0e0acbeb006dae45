"""Feature statistics in LeRobot's form: min, max, mean, std, count and q01/q10/q50/q90/q99.

Vector features get per-dimension stats, shape ``(D,)``. Image features get per-channel stats,
shape ``(3, 1, 1)``, on the 0-1 scale, from a sub-sample of frames and pixels. Dataset stats of
vectors are exact (computed over all frames); image stats are aggregated from episode stats
(exact min/max/mean/std, count-weighted average of the episode quantiles, as LeRobot does).
"""

from __future__ import annotations

import numpy as np

from rise_env.data.layout import QUANTILES

Stats = dict[str, np.ndarray]


def _qkey(q: float) -> str:
    return f"q{round(q * 100):02d}"


def vector_stats(values: np.ndarray) -> Stats:
    """Stats of ``(N, D)`` (or ``(N,)``) values over the first axis; each stat has shape ``(D,)`` (or ``(1,)``)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] == 0:
        raise ValueError("cannot compute statistics of an empty feature")
    out: Stats = {
        "min": arr.min(0),
        "max": arr.max(0),
        "mean": arr.mean(0),
        "std": arr.std(0),
        "count": np.array([arr.shape[0]], np.int64),
    }
    qs = np.quantile(arr, QUANTILES, axis=0)
    for q, v in zip(QUANTILES, qs, strict=True):
        out[_qkey(q)] = v
    return out


def image_stats(frames: np.ndarray, max_frames: int = 100, max_side: int = 150) -> Stats:
    """Per-channel stats of ``(T, H, W, 3)`` uint8 frames on the 0-1 scale, each shaped ``(3, 1, 1)``.

    Uses at most ``max_frames`` evenly spaced frames, strided so no side exceeds ``max_side``.
    """
    t, h, w, _ = frames.shape
    idx = np.unique(np.linspace(0, t - 1, min(t, max_frames)).round().astype(int))
    step = max(1, int(np.ceil(max(h, w) / max_side)))
    sub = frames[idx, ::step, ::step, :].reshape(-1, 3).astype(np.float64) / 255.0
    st = vector_stats(sub)
    st = {k: (v if k == "count" else v.reshape(3, 1, 1)) for k, v in st.items()}
    st["count"] = np.array([len(idx)], np.int64)
    return st


def aggregate_stats(parts: list[Stats]) -> Stats:
    """Combine stats of disjoint parts: exact min/max/mean/std, count-weighted quantiles."""
    if not parts:
        raise ValueError("no statistics to aggregate")
    counts = np.array([float(p["count"][0]) for p in parts])
    total = counts.sum()
    shape = (-1,) + (1,) * np.asarray(parts[0]["mean"]).ndim
    w = (counts / total).reshape(shape)
    means = np.stack([p["mean"] for p in parts])
    mean = (w * means).sum(0)
    var = (w * (np.stack([p["std"] for p in parts]) ** 2 + (means - mean) ** 2)).sum(0)
    out: Stats = {
        "min": np.min(np.stack([p["min"] for p in parts]), 0),
        "max": np.max(np.stack([p["max"] for p in parts]), 0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(total)], np.int64),
    }
    for q in QUANTILES:
        k = _qkey(q)
        out[k] = (w * np.stack([p[k] for p in parts])).sum(0)
    return out


def stats_to_json(stats: dict[str, Stats]) -> dict[str, dict[str, list]]:
    """Nested lists for JSON; keys in LeRobot's order."""
    return {feat: {k: np.asarray(v).tolist() for k, v in st.items()} for feat, st in stats.items()}


def stats_from_json(obj: dict[str, dict[str, list]]) -> dict[str, Stats]:
    """Inverse of :func:`stats_to_json` (counts as int64, everything else float64)."""
    return {
        feat: {k: np.asarray(v, np.int64 if k == "count" else np.float64) for k, v in st.items()}
        for feat, st in obj.items()
    }

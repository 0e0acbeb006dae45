"""Value-model metrics: progress correlation, success/failure separation, value-curve plots.

- ``spearman``: rank correlation with average ranks for ties (Pearson on the ranks).
- ``roc_auc``: probability that a random positive outscores a random negative (ties count ½),
  from the Mann–Whitney rank-sum formula ``(R₊ − n₊(n₊+1)/2) / (n₊·n₋)``.
- ``value_metrics``: mean per-episode Spearman(V, t/T) over successful episodes, and the AUC of
  the mean value over the last ``end_fraction`` of each episode for success vs failure.
- ``plot_value_curves``: PNG of value curves over normalised time (success green, failure red),
  drawn with Pillow (no matplotlib needed).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def rankdata(x: np.ndarray) -> np.ndarray:
    """1-based ranks of a 1-D array; tied values share the average of their ranks."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x), np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0  # mean of ranks s+1 .. e
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of two 1-D arrays; NaN when either is constant or shorter than 2."""
    x, y = np.asarray(x, np.float64).reshape(-1), np.asarray(y, np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"spearman needs arrays of equal length; got {x.shape} and {y.shape}")
    if len(x) < 2:
        return float("nan")
    rx, ry = rankdata(x) - (len(x) + 1) / 2.0, rankdata(y) - (len(y) + 1) / 2.0
    denom = math.sqrt(float((rx**2).sum() * (ry**2).sum()))
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC of ``scores`` for binary ``labels`` (True = positive); NaN if a class is absent."""
    scores = np.asarray(scores, np.float64).reshape(-1)
    labels = np.asarray(labels).astype(bool).reshape(-1)
    if scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must have the same length")
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = rankdata(scores)[labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


@dataclass
class EpisodeCurve:
    """Values of one episode: ``values`` (K,) at frames ``t`` (K,) of an episode of ``length`` frames."""

    values: np.ndarray
    t: np.ndarray
    length: int
    success: bool
    episode: int = -1
    label: str = ""

    @property
    def progress(self) -> np.ndarray:
        return np.asarray(self.t, np.float64) / self.length


def end_score(curve: EpisodeCurve, end_fraction: float = 0.1) -> float:
    """Mean value over the frames with ``t/T >= 1 − end_fraction`` (at least the last frame)."""
    if not 0.0 < end_fraction <= 1.0:
        raise ValueError(f"end_fraction must be in (0, 1]; got {end_fraction}")
    vals = np.asarray(curve.values, np.float64)
    if vals.size == 0:
        raise ValueError(f"episode {curve.episode} has no values")
    sel = curve.progress >= 1.0 - end_fraction - 1e-12
    return float(vals[sel].mean() if sel.any() else vals[-1])


def value_metrics(curves: Sequence[EpisodeCurve], end_fraction: float = 0.1) -> dict:
    """``spearman_progress`` (mean over successful episodes), ``auc_success_failure``, ``episodes`` counts."""
    rhos = [spearman(c.values, c.t) for c in curves if c.success]
    rhos_ok = [r for r in rhos if not math.isnan(r)]
    scores = np.array([end_score(c, end_fraction) for c in curves])
    labels = np.array([c.success for c in curves], bool)
    return {
        "spearman_progress": float(np.mean(rhos_ok)) if rhos_ok else float("nan"),
        "spearman_progress_std": float(np.std(rhos_ok)) if rhos_ok else float("nan"),
        "auc_success_failure": roc_auc(scores, labels) if len(curves) else float("nan"),
        "episodes": {"total": len(curves), "success": int(labels.sum()), "failure": int((~labels).sum())},
        "end_fraction": end_fraction,
        "mean_end_value_success": float(scores[labels].mean()) if labels.any() else float("nan"),
        "mean_end_value_failure": float(scores[~labels].mean()) if (~labels).any() else float("nan"),
    }


# ---------------------------------------------------------------------- plots
_GREEN, _RED, _GREY, _BLACK = (40, 160, 60), (210, 50, 40), (200, 200, 200), (30, 30, 30)


def _panel(draw, box: tuple[int, int, int, int], curves: Sequence[EpisodeCurve], vrange, title: str) -> None:
    x0, y0, x1, y1 = box
    lo, hi = vrange
    draw.rectangle(box, outline=_BLACK)
    for v in np.linspace(lo, hi, 5):
        y = y1 - (v - lo) / (hi - lo) * (y1 - y0)
        draw.line([(x0, y), (x1, y)], fill=_GREY)
        draw.text((x0 - 30, y - 6), f"{v:+.1f}", fill=_BLACK)
    if lo < 0 < hi:
        yz = y1 - (0 - lo) / (hi - lo) * (y1 - y0)
        draw.line([(x0, yz), (x1, yz)], fill=(120, 120, 120))
    draw.text((x0 + 4, y0 + 3), title, fill=_BLACK)
    for c in curves:
        if len(c.values) < 1:
            continue
        xs = x0 + c.progress * (x1 - x0)
        ys = y1 - (np.clip(c.values, lo, hi) - lo) / (hi - lo) * (y1 - y0)
        pts = list(zip(xs.tolist(), ys.tolist()))
        color = _GREEN if c.success else _RED
        if len(pts) > 1:
            draw.line(pts, fill=color, width=2)
        else:
            draw.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=color)


def plot_value_curves(
    curves: Sequence[EpisodeCurve],
    path: str | Path,
    max_panels: int = 12,
    vrange: tuple[float, float] = (-1.0, 1.0),
    title: str = "value vs t/T",
) -> Path:
    """PNG with an overlay of all curves and one small panel per episode (up to ``max_panels``)."""
    from PIL import Image, ImageDraw

    from rise_env.utils.atomic import atomic_write_bytes

    cols, pw, ph, pad = 4, 260, 150, 40
    shown = list(curves)[:max_panels]
    rows = math.ceil(len(shown) / cols)
    width = cols * (pw + pad) + pad
    height = pad + 2 * ph + pad + rows * (ph + pad)
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    n_s = sum(c.success for c in curves)
    head = f"{title}: {len(curves)} episodes ({n_s} success = green, {len(curves) - n_s} failure = red)"
    _panel(draw, (pad, pad, width - pad, pad + 2 * ph), curves, vrange, head)
    for i, c in enumerate(shown):
        r, k = divmod(i, cols)
        x, y = pad + k * (pw + pad), 2 * pad + 2 * ph + r * (ph + pad)
        name = c.label or f"episode {c.episode}"
        _panel(draw, (x, y, x + pw, y + ph), [c], vrange, f"{name} ({'ok' if c.success else 'fail'})")
    path = Path(path)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path

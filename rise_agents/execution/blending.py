"""How a new action chunk joins the plan being executed (pure maths + small tick-indexed planners).

Ticks are integers counted by the executor (one per control period). A chunk submitted with
``start_tick = s`` holds the targets for ticks ``s, s+1, ..., s+H-1``; steps already in the past
when it arrives are dropped.

* ``linear`` (paper Sec. X-B): over the overlap between the unexecuted old plan and the new chunk,
  the command is ``(1 - w) * old + w * new`` with ``w`` rising linearly from 0 (first overlapping
  tick: pure old plan, so the motion stays continuous) to 1 (last overlapping tick: pure new
  chunk); after the overlap the new chunk alone is followed.
* ``temporal_ensemble`` (ACT, Zhao et al. 2023, Alg. 2): every chunk's prediction for a tick is
  kept; the command is ``sum_i w_i a_i / sum_i w_i`` with ``w_i = exp(-k i)``, ``i = 0`` the oldest.
* ``none``: the new chunk replaces the old plan from its first future tick on.
"""

from __future__ import annotations

from collections import deque

import numpy as np


def linear_blend_weights(overlap: int) -> np.ndarray:
    """Weight of the *new* chunk over an overlap of ``overlap`` ticks: (overlap,) from 0 to 1.

    ``overlap == 1`` gives ``[0.]`` (the last tick of the old plan is kept; the new chunk takes
    over on the next tick).
    """
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0 ticks, got {overlap}")
    if overlap == 0:
        return np.zeros(0)
    return np.linspace(0.0, 1.0, overlap)


def linear_blend(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Cross-fade from ``old`` to ``new``, both aligned on the same first tick.

    Args:
        old: (N_old, D) unexecuted part of the current plan.
        new: (N_new, D) new chunk (its already-elapsed steps removed).

    Returns:
        (N_new, D): ``(1-w) old + w new`` over the first ``min(N_old, N_new)`` ticks, then ``new``.
        The plan never gets shorter than the new chunk; an old plan longer than the new chunk is cut.
    """
    old = np.asarray(old, dtype=np.float64)
    new = np.asarray(new, dtype=np.float64)
    if old.ndim != 2 or new.ndim != 2 or old.shape[1] != new.shape[1]:
        raise ValueError(f"old and new must be (N, D) with the same D, got {old.shape} and {new.shape}")
    n = min(len(old), len(new))
    out = new.copy()
    w = linear_blend_weights(n)[:, None]
    out[:n] = (1.0 - w) * old[:n] + w * new[:n]
    return out


def ensemble_weights(n: int, k: float = 0.01) -> np.ndarray:
    """ACT weights ``exp(-k i)`` for ``n`` predictions, ``i = 0`` the oldest, normalised to sum 1."""
    if n <= 0:
        raise ValueError(f"need at least one prediction, got {n}")
    w = np.exp(-k * np.arange(n, dtype=np.float64))
    return w / w.sum()


def temporal_ensemble(predictions: np.ndarray, k: float = 0.01) -> np.ndarray:
    """Weighted mean of (n, D) predictions for one tick, oldest first -> (D,)."""
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.ndim != 2:
        raise ValueError(f"predictions must be (n, D), oldest first, got shape {predictions.shape}")
    return ensemble_weights(len(predictions), k) @ predictions


class Planner:
    """A tick-indexed plan. ``submit`` merges a chunk; ``action_at`` answers the target of a tick."""

    def submit(self, chunk: np.ndarray, start_tick: int, next_tick: int) -> None:
        """Merge ``chunk`` (H, D) whose row 0 is the target of ``start_tick``; ``next_tick`` is the
        first tick not yet executed (rows for earlier ticks are dropped)."""
        raise NotImplementedError

    def action_at(self, tick: int) -> np.ndarray | None:
        """(D,) target for ``tick``, or None when the plan has run out."""
        raise NotImplementedError

    def end_tick(self) -> int:
        """First tick after the plan (the plan covers ticks < end_tick)."""
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


def _future_part(chunk: np.ndarray, start_tick: int, next_tick: int) -> tuple[np.ndarray, int]:
    skip = max(0, next_tick - start_tick)
    return np.asarray(chunk, dtype=np.float64)[skip:], start_tick + skip


class SequentialPlanner(Planner):
    """One array of future targets; new chunks are linearly blended in (or replace it if ``blend=False``)."""

    def __init__(self, blend: bool = True) -> None:
        self.blend = blend
        self.clear()

    def clear(self) -> None:
        self._plan: np.ndarray | None = None
        self._start = 0

    def submit(self, chunk: np.ndarray, start_tick: int, next_tick: int) -> None:
        new, first = _future_part(chunk, start_tick, next_tick)
        if len(new) == 0:
            return
        if self._plan is None or not self.blend:
            old = np.zeros((0, new.shape[1]))
        else:
            old = self._plan[max(0, first - self._start):]
            if first < self._start:  # the new chunk starts before the old plan did: nothing to blend there
                old = np.zeros((0, new.shape[1]))
        self._plan = linear_blend(old, new) if len(old) else new.copy()
        self._start = first

    def action_at(self, tick: int) -> np.ndarray | None:
        if self._plan is None:
            return None
        i = tick - self._start
        if 0 <= i < len(self._plan):
            return self._plan[i].copy()
        return None

    def end_tick(self) -> int:
        return self._start + (0 if self._plan is None else len(self._plan))


class TemporalEnsemblePlanner(Planner):
    """Keeps every live chunk; each tick's target is the ACT-weighted mean of their predictions."""

    def __init__(self, k: float = 0.01) -> None:
        self.k = k
        self.clear()

    def clear(self) -> None:
        self._chunks: deque[tuple[int, np.ndarray]] = deque()

    def submit(self, chunk: np.ndarray, start_tick: int, next_tick: int) -> None:
        new, first = _future_part(chunk, start_tick, next_tick)
        if len(new):
            self._chunks.append((first, new.copy()))
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= next_tick:
            self._chunks.popleft()

    def action_at(self, tick: int) -> np.ndarray | None:
        preds = [c[tick - s] for s, c in self._chunks if 0 <= tick - s < len(c)]  # oldest first
        if not preds:
            return None
        return temporal_ensemble(np.stack(preds), self.k)

    def end_tick(self) -> int:
        return max((s + len(c) for s, c in self._chunks), default=0)


def make_planner(mode: str, k: float = 0.01) -> Planner:
    """``"linear"`` | ``"temporal_ensemble"`` | ``"none"`` -> a fresh planner."""
    if mode == "linear":
        return SequentialPlanner(blend=True)
    if mode == "none":
        return SequentialPlanner(blend=False)
    if mode == "temporal_ensemble":
        return TemporalEnsemblePlanner(k)
    raise ValueError(f"unknown blending mode {mode!r}; expected 'linear', 'temporal_ensemble' or 'none'")

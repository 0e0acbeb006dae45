"""Stage-wise score of Dynamic Brick Sorting (paper Table VII)."""

from __future__ import annotations

import numpy as np


class ScoreBoard:
    """Grasp points once per brick, placement points per brick in its matching bin, capped total.

    ``grasp(i)`` and ``place(i, matching)`` return the points actually gained (0 once the cap is
    reached, for a repeated grasp of the same brick, or for a wrong bin).
    """

    def __init__(self, num_bricks: int, grasp_points: float = 1.0, place_points: float = 1.5, cap: float = 10.0):
        self.grasp_points, self.place_points, self.cap = grasp_points, place_points, cap
        self.grasped = np.zeros(num_bricks, dtype=bool)
        self.placed = np.zeros(num_bricks, dtype=bool)
        self.raw = 0.0

    @property
    def score(self) -> float:
        return float(min(self.raw, self.cap))

    def _add(self, points: float) -> float:
        before = self.score
        self.raw += points
        return self.score - before

    def grasp(self, i: int) -> float:
        """First lift of brick ``i`` off its support."""
        if self.grasped[i]:
            return 0.0
        self.grasped[i] = True
        return self._add(self.grasp_points)

    def place(self, i: int, matching: bool) -> float:
        """Brick ``i`` came to lie in a bin; only a matching bin scores, once."""
        if not matching or self.placed[i]:
            return 0.0
        self.placed[i] = True
        return self._add(self.place_points)

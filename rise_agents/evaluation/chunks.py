"""Executing predicted chunks: run ``execute_steps`` actions, re-plan, blend the new chunk in (paper Sec. X-B).

The blending maths is the real robot's (``rise_agents.envs.agilex.blending.linear_blend``): over
the overlap between the not-yet-executed remainder of the previous plan and the new chunk, the
command is ``(1 − w) · old + w · new`` with ``w`` rising linearly from 0 (first overlapping step:
the old plan, so the motion is continuous) to 1 (last overlapping step: the new chunk); after the
overlap the new chunk alone is followed. Here re-planning is synchronous: the new chunk's first
row is the target of the first step not executed yet.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rise_agents.execution.blending import linear_blend


class ChunkExecutor:
    """Turns a stream of predicted chunks ``(H, D)`` into executed sequences ``(execute_steps, D)``.

    Example:
        >>> ex = ChunkExecutor(execute_steps=2)
        >>> ex.next(np.zeros((4, 1))).ravel().tolist()        # first chunk: executed as predicted
        [0.0, 0.0]
        >>> ex.next(np.ones((4, 1))).ravel().tolist()         # overlap of 2: weights 0, 1
        [0.0, 1.0]
    """

    def __init__(self, execute_steps: int, blend: Literal["linear", "none"] = "linear") -> None:
        if execute_steps < 1:
            raise ValueError(f"execute_steps must be >= 1, got {execute_steps}")
        if blend not in ("linear", "none"):
            raise ValueError(f"blend must be 'linear' or 'none', got {blend!r}")
        self.execute_steps, self.blend = int(execute_steps), blend
        self.reset()

    def reset(self) -> None:
        """Forget the previous plan (call at the start of every episode)."""
        self.remainder: np.ndarray | None = None

    def plan(self, chunk: np.ndarray) -> np.ndarray:
        """The blended plan ``(H, D)`` for a new chunk ``(H, D)`` (does not advance)."""
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 2:
            raise ValueError(f"chunk must be (H, D), got shape {chunk.shape}")
        if self.blend == "none" or self.remainder is None or len(self.remainder) == 0:
            return chunk.copy()
        return linear_blend(self.remainder, chunk)

    def next(self, chunk: np.ndarray) -> np.ndarray:
        """Blend ``chunk`` in and return the next ``(execute_steps, D)`` float32 actions to run."""
        plan = self.plan(chunk)
        if len(plan) < self.execute_steps:
            raise ValueError(
                f"the predicted chunk has {len(plan)} steps; execute_steps={self.execute_steps} needs at least "
                "that many"
            )
        self.remainder = plan[self.execute_steps :]
        return plan[: self.execute_steps].astype(np.float32)

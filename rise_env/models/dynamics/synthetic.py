"""Synthetic moving-square videos whose motion is set by the action: a controllability toy.

Every view shows one coloured square (view v: colour channel v). Action dimensions 0 and 1 are the
square's velocity (x, y) in [-1, 1]; the square moves ``speed`` pixels per future frame along it.
Memory frames show the square still at its start position.
"""

from __future__ import annotations

import torch

from rise_env.models.dynamics.config import DynamicsConfig


def render_squares(pos: torch.Tensor, views: int, height: int, width: int, size: int) -> torch.Tensor:
    """``pos`` ``(B, T, 2)`` top-left (x, y) in pixels -> ``(B, T, V, H, W, 3)`` uint8 frames."""
    b, t, _ = pos.shape
    ys = torch.arange(height).view(1, 1, height, 1)
    xs = torch.arange(width).view(1, 1, 1, width)
    x0 = pos[..., 0].round().long().view(b, t, 1, 1)
    y0 = pos[..., 1].round().long().view(b, t, 1, 1)
    mask = (xs >= x0) & (xs < x0 + size) & (ys >= y0) & (ys < y0 + size)  # (B, T, H, W)
    frames = torch.zeros(b, t, views, height, width, 3, dtype=torch.uint8)
    for v in range(views):
        frames[:, :, v, :, :, v % 3] = mask.to(torch.uint8) * 255
    return frames


def moving_squares(
    config: DynamicsConfig,
    batch: int,
    seed: int | None = None,
    velocity: torch.Tensor | None = None,
    start: torch.Tensor | None = None,
    speed: float = 2.0,
    size: int | None = None,
) -> dict[str, torch.Tensor]:
    """A batch with the keys of :data:`rise_env.models.dynamics.training.BATCH_KEYS`.

    Args:
        velocity: ``(B, 2)`` in [-1, 1]; if None one of the four unit directions (+x, -x, +y, -y).
        start: ``(B, 2)`` top-left start position in pixels; random if None.
    The config should use ``action_low = -1`` and ``action_high = 1`` so the action is the velocity.
    """
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    c = config
    size = size or max(2, c.height // 4)
    travel = speed * c.future_frames
    if velocity is None:
        dirs = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        velocity = dirs[torch.randint(0, 4, (batch,), generator=g)]
    if start is None:
        lo = travel
        hi_x, hi_y = c.width - size - travel, c.height - size - travel
        u = torch.rand(batch, 2, generator=g)
        start = torch.stack([lo + u[:, 0] * max(hi_x - lo, 0), lo + u[:, 1] * max(hi_y - lo, 0)], dim=1)
    mem_pos = start[:, None].expand(batch, c.memory_frames, 2)
    steps = torch.arange(1, c.future_frames + 1, dtype=torch.float32).view(1, -1, 1)
    fut_pos = start[:, None] + steps * speed * velocity[:, None]
    actions = torch.zeros(batch, c.action_horizon, c.action_dim)
    actions[..., :2] = velocity[:, None].clamp(-1, 1)
    return {
        "memory_frames": render_squares(mem_pos, c.views, c.height, c.width, size),
        "future_frames": render_squares(fut_pos, c.views, c.height, c.width, size),
        "actions": actions,
        "state": torch.zeros(batch, c.action_dim),
        "task_index": torch.zeros(batch, dtype=torch.long),
    }


def square_centroid(frames: torch.Tensor) -> torch.Tensor:
    """``(..., H, W, 3)`` uint8 -> ``(..., 2)`` intensity-weighted (x, y) centroid of the brightest channel."""
    img = frames.float().amax(dim=-1)
    img = (img - img.amin(dim=(-2, -1), keepdim=True)).clamp_min(0)
    h, w = img.shape[-2:]
    total = img.sum(dim=(-2, -1)).clamp_min(1e-6)
    x = (img * torch.arange(w, dtype=torch.float32)).sum(dim=(-2, -1)) / total
    y = (img * torch.arange(h, dtype=torch.float32).view(h, 1)).sum(dim=(-2, -1)) / total
    return torch.stack([x, y], dim=-1)

"""Multi-view frames as video: tile the views side by side and write an H.264 mp4 atomically."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rise_env.utils.atomic import atomic_write


def tile_views(views: np.ndarray) -> np.ndarray:
    """(V, H, W, 3) uint8 → (H, V*W, 3): views left to right."""
    views = np.asarray(views)
    if views.ndim != 4 or views.shape[-1] != 3:
        raise ValueError(f"views must be (V, H, W, 3), got shape {views.shape}")
    return np.concatenate(list(views), axis=1)


def compare_views(*columns: np.ndarray) -> np.ndarray:
    """Columns of (V, H, W, 3) uint8 views (e.g. real, imagined) → (V*H, C*W, 3): rows = views.

    Example:
        >>> real = np.zeros((3, 4, 5, 3), np.uint8)
        >>> compare_views(real, real + 1).shape
        (12, 10, 3)
    """
    if not columns:
        raise ValueError("compare_views needs at least one column of views")
    arrays = [np.asarray(c) for c in columns]
    for i, c in enumerate(arrays):
        if c.ndim != 4 or c.shape[-1] != 3 or c.shape != arrays[0].shape:
            raise ValueError(f"column {i} must be (V, H, W, 3) like column 0 {arrays[0].shape}, got {c.shape}")
    return np.concatenate([np.concatenate(list(c), axis=0) for c in arrays], axis=1)


def write_video(path: str | os.PathLike, images: Iterable[np.ndarray], fps: int = 15) -> Path:
    """Write (H, W, 3) uint8 images as an H.264 (yuv420p) mp4; the file appears complete or not at all."""
    import imageio.v2 as imageio

    images = list(images)
    if not images:
        raise ValueError(f"no frames to write to {path}")

    def write(tmp: Path) -> None:
        with imageio.get_writer(tmp, fps=fps, codec="libx264", macro_block_size=1, pixelformat="yuv420p") as writer:
            for image in images:
                writer.append_data(image)

    atomic_write(path, write)
    return Path(path)

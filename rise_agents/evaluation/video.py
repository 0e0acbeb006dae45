"""mp4 of an episode: the three camera views tiled side by side (imageio + ffmpeg), written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def tile_views(views: np.ndarray) -> np.ndarray:
    """(V, h, w, 3) → (h, V·w, 3) uint8."""
    views = np.asarray(views)
    if views.ndim != 4 or views.shape[-1] != 3:
        raise ValueError(f"views must be (V, h, w, 3), got shape {views.shape}")
    return np.concatenate(list(views), axis=1)


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: int = 15) -> Path:
    """Write frames ``(V, h, w, 3)`` each as an H.264 mp4 of tiled views; the file appears complete or not at all."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.mp4")
    try:
        with imageio.get_writer(tmp, fps=fps, codec="libx264", macro_block_size=2, quality=7) as writer:
            for views in frames:
                writer.append_data(tile_views(views))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

"""mp4s of imagined chunks: the views side by side with the value curve drawn beneath."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rise_env.utils.video import tile_views, write_video

CURVE_COLOR = np.array([40, 200, 90], np.uint8)
MARKER_COLOR = np.array([230, 60, 60], np.uint8)


def value_strip(values: np.ndarray, upto: int, width: int, height: int = 64, vmin: float = 0.0,
                vmax: float = 1.0) -> np.ndarray:
    """Plot of ``values`` (T,) on a dark strip, drawn up to index ``upto`` with a marker there.

    Returns (height, width, 3) uint8. Values are placed on [vmin, vmax] (clipped).
    """
    strip = np.full((height, width, 3), 24, np.uint8)
    strip[height // 2, :, :] = 60  # mid line
    t = len(values)
    if t == 0:
        return strip
    xs = np.linspace(2, width - 3, t) if t > 1 else np.array([width / 2])
    ys = (height - 3) - (np.clip(values, vmin, vmax) - vmin) / max(vmax - vmin, 1e-9) * (height - 6)
    upto = int(np.clip(upto, 0, t - 1))
    for i in range(upto):
        _segment(strip, xs[i], ys[i], xs[i + 1], ys[i + 1], CURVE_COLOR)
    _dot(strip, xs[upto], ys[upto], MARKER_COLOR)
    return strip


def _segment(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color: np.ndarray) -> None:
    n = int(max(abs(x1 - x0), abs(y1 - y0)) * 2) + 2
    for x, y in zip(np.linspace(x0, x1, n), np.linspace(y0, y1, n)):
        xi, yi = int(round(x)), int(round(y))
        img[max(yi - 1, 0) : yi + 1, max(xi - 1, 0) : xi + 1] = color


def _dot(img: np.ndarray, x: float, y: float, color: np.ndarray, r: int = 3) -> None:
    xi, yi = int(round(x)), int(round(y))
    img[max(yi - r, 0) : yi + r + 1, max(xi - r, 0) : xi + r + 1] = color


class ImaginationVideoWriter:
    """Collects imagined chunks and writes one mp4 (atomically) on ``close()``.

    Example:
        >>> writer = ImaginationVideoWriter("imagined.mp4")              # doctest: +SKIP
        >>> obs, info = env.reset(seed=0)                                # doctest: +SKIP
        >>> writer.add_start(obs_frame, value_t0)                        # doctest: +SKIP
        >>> _, _, _, _, info = env.step(chunk)                           # doctest: +SKIP
        >>> writer.add_chunk(info["frames"], info["values"])             # doctest: +SKIP
        >>> writer.close()                                               # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, fps: int = 15, strip_height: int = 64) -> None:
        self.path = Path(path)
        self.fps = fps
        self.strip_height = strip_height
        self._frames: list[np.ndarray] = []  # (V, H, W, 3)
        self._values: list[float] = []

    def add_start(self, frame: np.ndarray, value: float) -> None:
        """The real frame imagination starts from: (V, H, W, 3) uint8 and its value."""
        self._frames.append(np.asarray(frame))
        self._values.append(float(value))

    def add_chunk(self, frames: np.ndarray, values: np.ndarray) -> None:
        """Imagined frames (K, V, H, W, 3) uint8 and their values (K,)."""
        if len(frames) != len(values):
            raise ValueError(f"got {len(frames)} frames but {len(values)} values")
        self._frames.extend(np.asarray(frames))
        self._values.extend(float(v) for v in values)

    def render(self) -> np.ndarray:
        """All video frames: (T, H + strip_height, V*W, 3) uint8."""
        if not self._frames:
            raise ValueError("nothing to render: add frames first")
        values = np.array(self._values)
        lo, hi = min(0.0, values.min()), max(1.0, values.max())
        out = []
        for t, frame in enumerate(self._frames):
            tile = tile_views(frame)
            out.append(np.concatenate([tile, value_strip(values, t, tile.shape[1], self.strip_height, lo, hi)]))
        return np.stack(out)

    def close(self) -> Path:
        write_video(self.path, self.render(), fps=self.fps)
        return self.path

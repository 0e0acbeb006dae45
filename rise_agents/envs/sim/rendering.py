"""Offscreen multi-view rendering of the twin (shadows off, one renderer per resolution).

Renderers are created lazily, in the process that renders (an env copied into a forked or
spawned worker creates its own), and reused for every camera of the same resolution.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402


class MultiViewRenderer:
    """Renders named cameras of ``model`` into ``(n_cameras, H, W, 3)`` uint8 arrays."""

    def __init__(self, model: mujoco.MjModel, cameras: tuple[str, ...]) -> None:
        for name in cameras:
            if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, name) < 0:
                raise ValueError(f"camera {name!r} is not in the model; expected one of its cameras")
        self.model = model
        self.cameras = cameras
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._pid = os.getpid()

    def _renderer(self, height: int, width: int) -> mujoco.Renderer:
        if self._pid != os.getpid():  # copied into another process: never reuse a parent's GL context
            self._renderers = {}
            self._pid = os.getpid()
        key = (height, width)
        if key not in self._renderers:
            renderer = mujoco.Renderer(self.model, height, width)
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
            self._renderers[key] = renderer
        return self._renderers[key]

    def render(self, data: mujoco.MjData, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
        """All cameras at ``(height, width)``: a fresh (or the given) ``(n_cameras, H, W, 3)`` uint8 array."""
        renderer = self._renderer(height, width)
        if out is None:
            out = np.empty((len(self.cameras), height, width, 3), dtype=np.uint8)
        for i, name in enumerate(self.cameras):
            renderer.update_scene(data, camera=name)
            renderer.render(out=out[i])
        return out

    def close(self) -> None:
        if self._pid == os.getpid():
            for renderer in self._renderers.values():
                renderer.close()
        self._renderers = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_renderers"] = {}
        return state


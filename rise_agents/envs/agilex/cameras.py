"""RGB cameras: OpenCV (UVC: RealSense/Orbbec colour streams), pyrealsense2, and a FakeCamera for tests.

Each camera grabs in its own thread and keeps only its latest frame, already resized to the
configured resolution and converted to RGB, with its capture time (``time.monotonic()``) and a
sequence number. ``latest(max_age)`` raises ``CameraLostError`` when no new frame arrived within
``max_age`` seconds: a stalled camera is an error, never a frozen image.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from rise_agents.envs.agilex.config import CameraConfig
from rise_agents.envs.agilex.errors import CameraLostError


@dataclass(frozen=True)
class Frame:
    """One RGB image (H, W, 3) uint8 with its capture time (monotonic s) and sequence number."""

    image: np.ndarray
    stamp: float
    seq: int


class Camera:
    """Base class: a grab thread calling ``_grab() -> RGB or BGR image | None``."""

    bgr = False  # True when _grab returns BGR (OpenCV)

    def __init__(self, name: str, height: int, width: int) -> None:
        self.name = name
        self.height = height
        self.width = width
        self._latest: Frame | None = None
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0

    # -- to implement
    def _open(self) -> None:
        """Open the device (called in the caller's thread by ``start``)."""

    def _grab(self) -> np.ndarray | None:
        """Block until the next image arrives; None when none came (the loop retries)."""
        raise NotImplementedError

    def _close(self) -> None:
        """Release the device."""

    # -- common machinery
    def start(self) -> Camera:
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                img = self._grab()
            except Exception as e:  # noqa: BLE001 - reported through latest()
                self._error = f"{type(e).__name__}: {e}"
                return
            if img is None:
                continue
            self._latest = Frame(self._convert(img), time.monotonic(), self._seq)
            self._seq += 1

    def _convert(self, img: np.ndarray) -> np.ndarray:
        if img.shape[:2] != (self.height, self.width):
            import cv2

            img = cv2.resize(img, (self.width, self.height), interpolation=cv2.INTER_AREA)
        if self.bgr:
            img = img[..., ::-1]
        return np.ascontiguousarray(img, dtype=np.uint8)

    def latest(self, max_age: float) -> Frame:
        """The newest frame; ``CameraLostError`` if it is older than ``max_age`` s or none ever came."""
        frame = self._latest
        if self._error is not None:
            raise CameraLostError(f"camera '{self.name}' failed: {self._error}")
        if frame is None:
            raise CameraLostError(f"camera '{self.name}' has delivered no frame yet")
        age = time.monotonic() - frame.stamp
        if age > max_age:
            raise CameraLostError(
                f"camera '{self.name}' delivered no new frame for {age * 1000:.0f} ms "
                f"(timeout {max_age * 1000:.0f} ms); refusing to reuse a frozen image"
            )
        return frame

    def wait_first_frame(self, timeout: float) -> Frame:
        """Block until the first frame arrives (``CameraLostError`` after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while self._latest is None and self._error is None and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.latest(max_age=max(timeout, 1e9))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self._close()


class OpenCVCamera(Camera):
    """A UVC camera through ``cv2.VideoCapture`` (device index or path), BGR converted to RGB."""

    bgr = True

    def __init__(self, name: str, height: int, width: int, source: int | str, fps: int = 30,
                 capture_width: int | None = None, capture_height: int | None = None) -> None:
        super().__init__(name, height, width)
        self.source, self.fps = source, fps
        self.capture_width, self.capture_height = capture_width, capture_height
        self._cap = None

    def _open(self) -> None:
        import cv2

        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            raise CameraLostError(f"camera '{self.name}': OpenCV cannot open source {self.source!r}")
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep latency low: we only want the newest frame
        if self.capture_width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.capture_width)
        if self.capture_height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.capture_height)
        self._cap = cap

    def _grab(self) -> np.ndarray | None:
        ok, img = self._cap.read()
        if not ok:
            time.sleep(0.005)
            return None
        return img

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class RealSenseCamera(Camera):
    """An Intel RealSense colour stream through ``pyrealsense2`` (imported lazily), RGB8."""

    def __init__(self, name: str, height: int, width: int, serial: str | None = None, fps: int = 30,
                 capture_width: int | None = None, capture_height: int | None = None) -> None:
        super().__init__(name, height, width)
        self.serial, self.fps = serial, fps
        self.capture_width, self.capture_height = capture_width or 640, capture_height or 480
        self._pipe = None

    def _open(self) -> None:
        try:
            import pyrealsense2 as rs
        except ImportError as e:
            raise CameraLostError(
                f"camera '{self.name}': kind='realsense' needs pyrealsense2 (pip install pyrealsense2), "
                "or use kind='opencv' with the colour stream's /dev/video index"
            ) from e
        cfg = rs.config()
        if self.serial:
            cfg.enable_device(str(self.serial))
        cfg.enable_stream(rs.stream.color, self.capture_width, self.capture_height, rs.format.rgb8, self.fps)
        self._pipe = rs.pipeline()
        self._pipe.start(cfg)

    def _grab(self) -> np.ndarray | None:
        frames = self._pipe.poll_for_frames()
        color = frames.get_color_frame() if frames else None
        if not color:
            time.sleep(0.002)
            return None
        return np.asanyarray(color.get_data()).copy()

    def _close(self) -> None:
        if self._pipe is not None:
            self._pipe.stop()
            self._pipe = None


class FakeCamera(Camera):
    """Synthetic frames at ``fps``: a per-camera colour gradient; the frame counter is written into
    the first 4 bytes of row 0 (little-endian uint32, see ``frame_counter``). ``stall()`` stops it."""

    def __init__(self, name: str, height: int, width: int, fps: float = 30.0, seed: int = 0) -> None:
        super().__init__(name, height, width)
        self.period = 1.0 / fps
        self._stalled = threading.Event()
        rng = np.random.default_rng(seed + sum(map(ord, name)))
        base = np.linspace(0, 255, width, dtype=np.float64)[None, :, None] * rng.uniform(0.3, 1.0, 3)
        self._base = np.broadcast_to(base, (height, width, 3)).astype(np.uint8)
        self._next = 0.0

    def stall(self, stalled: bool = True) -> None:
        """Stop (or resume) delivering frames, as if the USB link froze."""
        if stalled:
            self._stalled.set()
        else:
            self._stalled.clear()

    def _grab(self) -> np.ndarray | None:
        now = time.monotonic()
        if self._next == 0.0:
            self._next = now
        delay = self._next - now
        if delay > 0:
            self._stop.wait(delay)
        self._next = max(self._next + self.period, time.monotonic() - self.period)
        if self._stalled.is_set():
            return None
        img = self._base.copy()
        img[0, :4, 0] = np.frombuffer(np.uint32(self._seq).tobytes(), dtype=np.uint8)
        return img


def frame_counter(image: np.ndarray) -> int:
    """The counter a ``FakeCamera`` wrote into ``image``."""
    return int(np.frombuffer(np.ascontiguousarray(image[0, :4, 0]).tobytes(), dtype=np.uint32)[0])


def make_camera(cfg: CameraConfig, height: int, width: int) -> Camera:
    """Build the camera described by ``cfg`` (not started)."""
    if cfg.kind == "fake":
        return FakeCamera(cfg.name, height, width, fps=cfg.capture_fps)
    if cfg.kind == "realsense":
        serial = None if cfg.source is None else str(cfg.source)
        return RealSenseCamera(cfg.name, height, width, serial, cfg.capture_fps, cfg.capture_width,
                               cfg.capture_height)
    if cfg.source is None:
        raise ValueError(f"camera '{cfg.name}': kind='opencv' needs a source (device index or path)")
    return OpenCVCamera(cfg.name, height, width, cfg.source, cfg.capture_fps, cfg.capture_width,
                        cfg.capture_height)

"""Cameras: OpenCV capture (here from a video file standing in for a UVC device) and the FakeCamera."""

import time

import cv2
import numpy as np
import pytest

from rise_agents.envs.agilex import CameraLostError, FakeCamera, OpenCVCamera, frame_counter
from rise_agents.envs.agilex.cameras import make_camera
from rise_agents.envs.agilex.config import CameraConfig


def test_opencv_camera_resizes_converts_to_rgb_and_reports_a_dead_stream(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (80, 64))
    bgr_red = np.zeros((64, 80, 3), np.uint8)
    bgr_red[..., 2] = 255
    for _ in range(10):
        writer.write(bgr_red)
    writer.release()
    cam = OpenCVCamera("top", 48, 64, source=path).start()
    try:
        frame = cam.wait_first_frame(timeout=2.0)
        assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
        r, g, b = frame.image[24, 32].astype(int)
        assert r > 200 and g < 40 and b < 40  # BGR red arrives as RGB red
        time.sleep(0.3)  # the file ends: no new frames
        with pytest.raises(CameraLostError, match="camera 'top' delivered no new frame"):
            cam.latest(max_age=0.2)
    finally:
        cam.stop()
    with pytest.raises(CameraLostError, match="cannot open source"):
        OpenCVCamera("top", 48, 64, source=str(tmp_path / "missing.avi")).start()


def test_fake_camera_counts_frames_and_stalls():
    cam = make_camera(CameraConfig(name="left_wrist", kind="fake", capture_fps=60), 24, 32).start()
    try:
        first = cam.wait_first_frame(timeout=2.0)
        time.sleep(0.1)
        later = cam.latest(max_age=0.5)
        assert frame_counter(later.image) > frame_counter(first.image) and later.seq > first.seq
        cam.stall()
        time.sleep(0.25)
        with pytest.raises(CameraLostError, match="left_wrist"):
            cam.latest(max_age=0.2)
        cam.stall(False)
        time.sleep(0.1)
        assert cam.latest(max_age=0.2).seq > later.seq
    finally:
        cam.stop()
    assert isinstance(cam, FakeCamera)
    with pytest.raises(ValueError, match="needs a source"):
        make_camera(CameraConfig(name="top", kind="opencv"), 24, 32)

"""Camera videos encode to the same bytes on every x86 CPU with AVX2, whether it has AVX-512 or not.

x264's AVX-512 macroblock-tree routines round differently from its AVX2 ones, so without a cap the same
episode encodes to other bytes (and slightly other pixels) on AVX-512 CPUs.
"""

from __future__ import annotations

import numpy as np
import pytest

from rise_env.data import VideoConfig, video
from rise_env.utils.provenance import cpuinfo_field

_AVX512_FLAGS = "fpu sse2 sse4_2 avx avx2 fma abm bmi1 bmi2 avx512f avx512bw"


@pytest.fixture
def cpu(monkeypatch):
    """``cpu(flags)`` makes ``x264_options()`` answer as on a CPU with those /proc/cpuinfo flags."""

    def pretend(flags: str) -> dict[str, str]:
        monkeypatch.setattr(video, "cpu_flags", lambda: frozenset(flags.split()))
        video.x264_options.cache_clear()
        return video.x264_options()

    yield pretend
    video.x264_options.cache_clear()


def test_x264_is_capped_at_avx2_only_where_the_cpu_has_avx2(cpu):
    assert cpu(_AVX512_FLAGS) == {"x264-params": "asm=AVX2"}
    assert cpu(_AVX512_FLAGS.replace("bmi2", "")) == {}  # without a part of x264's AVX2 level: x264 decides
    assert cpu("") == {}  # flags unknown (another OS, an ARM CPU): x264 decides


def test_cpu_flags_are_read_from_the_x86_flags_line(tmp_path):
    intel = tmp_path / "intel"
    intel.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2\n\nprocessor\t: 1\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n")
    assert video.cpu_flags(intel) == frozenset({"fpu", "sse2", "avx2"})
    assert cpuinfo_field("model name", intel) == "Some CPU"  # the same reader names the CPU in result files
    assert video.cpu_flags(arm) == frozenset()
    assert video.cpu_flags(tmp_path / "missing") == frozenset()


def _clip() -> np.ndarray:
    """``(12, 32, 48, 3)`` uint8: a drifting pattern with noise, which x264's C code and its assembly encode
    to different bytes."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:32, 0:48]
    frames = [
        np.stack([128 + 100 * np.sin((x + 2 * k) / 5) * np.cos(y / 7), (x * 5 + k) % 256, y * 8], -1) for k in range(12)
    ]
    noisy = np.stack(frames) + rng.integers(0, 8, (12, 32, 48, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_encode_video_hands_the_cap_to_x264(tmp_path, monkeypatch):
    """What x264_options() returns reaches the encoder: the cap and x264's plain C code (asm=0) give other bytes."""
    capped = video.x264_options()
    if not capped:
        pytest.skip("this CPU has no AVX2: x264 is not capped here")
    clip = _clip()
    encoded = {}
    for name, options in (("capped", capped), ("plain_c", {"x264-params": "asm=0"})):
        monkeypatch.setattr(video, "x264_options", lambda options=options: options)
        path = tmp_path / f"{name}.mp4"
        video.encode_video(path, clip, 30, VideoConfig())
        encoded[name] = path.read_bytes()
        assert video.decode_range(path, 0.0, 12, 30).shape == clip.shape
    assert encoded["capped"] != encoded["plain_c"]

"""mp4 camera streams through PyAV: encode an episode, concatenate episodes by remuxing, decode a range.

Streams are h264 (libx264), yuv420p, no B-frames (so pts == dts), keyframe every ``gop`` frames.
Frame ``k`` of a stream sits at ``k / fps`` seconds exactly (the mp4 time base is a multiple of
fps), which is what LeRobot's decoders match timestamps against.
"""

from __future__ import annotations

import functools
import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from rise_env.data.layout import VideoConfig
from rise_env.utils.provenance import cpuinfo_field

logging.getLogger("libav").setLevel(logging.ERROR)


class VideoError(RuntimeError):
    """A video file could not be written or read as expected."""


# /proc/cpuinfo names of what x264's "AVX2" instruction-set level uses (AVX, FMA3, LZCNT, BMI1/2, AVX2).
_X264_AVX2_FLAGS = frozenset({"avx", "avx2", "fma", "abm", "bmi1", "bmi2"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The x86 CPU's feature flags as Linux names them (``flags`` of ``cpuinfo``); empty where there are none."""
    return frozenset((cpuinfo_field("flags", cpuinfo) or "").split())


@functools.cache
def x264_options() -> dict[str, str]:
    """libx264 options that make an encode the same bytes on every x86 CPU with AVX2, AVX-512 or not.

    x264 picks its assembly for the CPU it runs on, and its AVX-512 macroblock-tree routines (floating
    point) round differently from the AVX2 ones: the same frames encode to other bytes, and decode to
    slightly other pixels, on AVX-512 CPUs. Capping x264 at AVX2 where the CPU has it removes that; other
    CPUs keep x264's own choice.
    """
    return {"x264-params": "asm=AVX2"} if _X264_AVX2_FLAGS <= cpu_flags() else {}


def encode_video(path: Path, frames: np.ndarray, fps: int, cfg: VideoConfig) -> None:
    """Encode ``frames`` ``(T, H, W, 3)`` uint8 RGB into a new mp4 at ``path`` (T >= 1)."""
    t, h, w, c = frames.shape
    if c != 3 or frames.dtype != np.uint8:
        raise VideoError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if cfg.pix_fmt == "yuv420p" and (h % 2 or w % 2):
        raise VideoError(f"yuv420p needs an even image height and width, got {h}x{w}")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(cfg.codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, cfg.pix_fmt
        stream.codec_context.time_base = Fraction(1, fps)
        options = {"g": str(cfg.gop), "crf": str(cfg.crf), "preset": cfg.preset, "bf": "0"}
        stream.options = {**options, **x264_options()} if cfg.codec == "libx264" else options
        stream.thread_count = 1
        for i in range(t):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def count_packets(path: Path) -> int:
    """Number of video packets (= frames, no B-frames) without decoding."""
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size > 0 and p.pts is not None)


def concat_videos(inputs: list[Path], lengths: list[int], output: Path, fps: int) -> list[tuple[float, float]]:
    """Concatenate episode mp4s into ``output`` by remuxing packets (no re-encode).

    Episode ``j`` starts at the frame offset ``sum(lengths[:j])``; its packets' timestamps are
    shifted by exactly that many frame periods.

    Returns:
        ``(from_timestamp, to_timestamp)`` in seconds per input, ``to = from + length / fps``.
    """
    if not inputs or len(inputs) != len(lengths):
        raise VideoError(f"need one length per input video, got {len(inputs)} inputs and {len(lengths)} lengths")
    spans: list[tuple[float, float]] = []
    offset = 0
    with av.open(str(output), mode="w", format="mp4") as out:
        out_stream = None
        for path, length in zip(inputs, lengths, strict=True):
            with av.open(str(path)) as inp:
                in_stream = inp.streams.video[0]
                tb = in_stream.time_base
                if out_stream is None:
                    out_stream = out.add_stream_from_template(in_stream)
                    out_stream.time_base = tb
                shift = Fraction(offset, fps) / tb
                if shift.denominator != 1:
                    raise VideoError(f"{path}: time base {tb} cannot represent frame offsets at {fps} fps")
                n = 0
                for packet in inp.demux(in_stream):
                    if packet.dts is None:
                        continue
                    packet.pts += int(shift)
                    packet.dts += int(shift)
                    packet.stream = out_stream
                    out.mux(packet)
                    n += 1
            if n != length:
                raise VideoError(f"{path} holds {n} frames but its episode has {length}")
            spans.append((offset / fps, (offset + length) / fps))
            offset += length
    return spans


def video_info(path: Path) -> dict:
    """Stream info in LeRobot's ``features[key]["info"]`` form, read back from the file."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoError(f"{path} has no video stream")
        s = container.streams.video[0]
        pix_fmt = s.codec_context.pix_fmt or s.format.name
        return {
            "video.height": s.codec_context.height,
            "video.width": s.codec_context.width,
            "video.codec": s.codec_context.name,
            "video.pix_fmt": pix_fmt,
            "video.is_depth_map": False,
            "video.fps": int(s.base_rate or s.average_rate),
            "video.channels": 3,
            "has_audio": bool(container.streams.audio),
        }


def decode_range(path: Path, from_timestamp: float, length: int, fps: int) -> np.ndarray:
    """Decode frames ``[from, from + length / fps)`` of an mp4 into ``(length, H, W, 3)`` uint8.

    Frames are placed by their presentation timestamp (nearest frame period), so a missing or
    duplicated frame is an error rather than a silent shift.
    """
    out: np.ndarray | None = None
    seen = np.zeros(length, bool)
    end_pts: int | None = None
    to_rgb = VideoReformatter()  # reused: ~4x faster than frame.to_ndarray(format="rgb24"), same pixels

    def place(frame: av.VideoFrame) -> None:
        nonlocal out
        if frame.pts is None:
            return
        k = round((float(frame.pts * tb) - from_timestamp) * fps)
        if 0 <= k < length:
            if out is None:
                out = np.empty((length, frame.height, frame.width, 3), np.uint8)
            out[k] = to_rgb.reformat(frame, format="rgb24").to_ndarray()
            seen[k] = True

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # One thread: frame threads gave no speed-up on 2 shared cores, and stopping early with busy
        # frame threads can deadlock in PyAV (a thread logging through Python while the stream is freed).
        stream.thread_count = 1
        tb = stream.time_base
        ctx = stream.codec_context
        end_pts = int(round((from_timestamp + length / fps) / tb))
        container.seek(int(from_timestamp / tb), stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            if packet.dts is None:
                continue
            if packet.pts is not None and packet.pts >= end_pts:
                break  # no B-frames: later packets only hold later frames
            for frame in ctx.decode(packet):
                place(frame)
        # Drain the decoder (frames still buffered inside it).
        for frame in ctx.decode(None):
            place(frame)
    if out is None or not seen.all():
        missing = np.flatnonzero(~seen)[:5].tolist() if out is not None else list(range(min(length, 5)))
        raise VideoError(
            f"{path}: could not decode {int((~seen).sum())} of {length} frames starting at "
            f"{from_timestamp:.4f}s (first missing frame offsets {missing})"
        )
    return out

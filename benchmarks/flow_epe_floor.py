"""How faithful must imagined frames be for the flow-EPE target? Real clips under known degradations.

The dynamics evaluation scores imagined clips by the flow end-point error against the real clip
(``rise_env.metrics.flow_epe``); the target is 0.6 x the copy-last-frame baseline's EPE. This script
takes the real future clips of the evaluation's windows (same selection as ``python -m
rise_env.evaluate dynamics``), degrades them frame by frame in known ways and prints PSNR and flow
EPE of each against the clean clip, per view and in the mean, next to a still clip (copy-last's EPE),
with the flow speed ratio (degraded / real: below 1, motion is damped).
Besides frame damage it scores clips with the real motion in other pixels (``shift_1px``), the best a
whole-image ego-motion can do (``global_affine_warp``), and the real motion a little early
(``early_1_recorded_frame``, ``early_2_recorded_frames``: 33 and 67 ms at 30 Hz; the model's frames are
2 recorded frames apart): how exactly in time must imagined motion match the real one?
With ``--vae CKPT`` it also scores that dynamics model's VAE round trip, once encoding the clip as the
model does (with temporal compression) and once encoding every frame alone:

    python benchmarks/flow_epe_floor.py --data data/brick_sorting --frame-cache runs/frame_cache_96x128 \\
        --episodes 0,5,35,71,91,94,97,98,106,109,124,132,143,144,146,156,173,176,178 --max-windows 16 \\
        --vae rise_env/assets/brick_sorting/world_model/dynamics
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from rise_env.data import DynamicsWindowDataset, LeRobotDatasetReader, WindowConfig
from rise_env.data.frames import frames_at_size
from rise_env.data.split import choose_episodes
from rise_env.metrics import dense_flow, epe_of_flows, psnr, speed_of_flow
from rise_env.models.dynamics.evalrun import pick_windows
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.models.dynamics.run import resolve_model_dir
from rise_env.utils.provenance import write_result_json

Clip = np.ndarray  # (T, H, W, 3) uint8


def _per_frame(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Clip], Clip]:
    return lambda clip: np.stack([fn(f) for f in clip])


def _resize_half(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _jpeg(frame: np.ndarray, quality: int = 50) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def _noise(clip: Clip, sigma: float = 4.0) -> Clip:
    rng = np.random.default_rng(0)
    return np.clip(clip + rng.normal(0.0, sigma, clip.shape), 0, 255).astype(np.uint8)


def _warp(frame: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """``frame`` moved by a ``(2, 3)`` affine map of pixel positions (borders replicated)."""
    h, w = frame.shape[:2]
    return cv2.warpAffine(frame, affine.astype(np.float32), (w, h), borderMode=cv2.BORDER_REPLICATE)


def _global_affine(flow: np.ndarray) -> np.ndarray:
    """Least-squares ``(3, 3)`` affine map of pixel positions best fitting one ``(H, W, 2)`` flow."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    src = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)], axis=1)
    dst = src[:, :2] + flow.reshape(-1, 2)
    fit, *_ = np.linalg.lstsq(src, dst, rcond=None)  # (3, 2)
    return np.vstack([fit.T, [0.0, 0.0, 1.0]])


def global_affine_warp(clip: Clip) -> Clip:
    """The first frame moved, transition by transition, by the global affine motion of the real flow.

    The best any whole-image ego-motion (a camera that only turns, shifts and zooms) can score: what is
    left is parallax, the conveyor and the objects moving on their own.
    """
    pose, frames = np.eye(3), [clip[0]]
    for flow in dense_flow(clip):
        pose = _global_affine(flow) @ pose
        frames.append(_warp(clip[0], pose[:2]))
    return np.stack(frames)


DEGRADATIONS: dict[str, Callable[[Clip], Clip]] = {
    # the first frame held: its flow is 0, so its EPE is the clip's mean flow, as copy-last's in the evaluation
    "still": lambda clip: np.repeat(clip[:1], len(clip), axis=0),
    "resize_half": _per_frame(_resize_half),  # to half the resolution and back
    "blur_1px": _per_frame(lambda f: cv2.GaussianBlur(f, (0, 0), 1.0)),
    "jpeg_50": _per_frame(_jpeg),
    "noise_4": _noise,  # Gaussian noise, sigma 4 grey levels
    # the real motion in other pixels: every frame moved one pixel right
    "shift_1px": _per_frame(lambda f: _warp(f, np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))),
    "global_affine_warp": global_affine_warp,
}
# the same future started this many recorded frames later: the real motion that much early
EARLY_BY = {"early_1_recorded_frame": 1, "early_2_recorded_frames": 2}


class RealClips:
    """The real clips of one view and their dense flows, computed once for every row that compares to them."""

    def __init__(self, clips: list[Clip]):
        self.clips = clips
        self.flows = [dense_flow(c) for c in clips]

    def figures(self, degraded: list[Clip]) -> dict[str, float]:
        """Mean PSNR, flow EPE and flow speed ratio (degraded / real) of ``degraded`` against these clips.

        PSNR is averaged over the frames that differ from the real ones (the still clip's first is exact).
        """
        frame_psnr = np.concatenate([psnr(d, c).numpy() for d, c in zip(degraded, self.clips)])
        flows = [dense_flow(d) for d in degraded]
        return {
            "psnr": float(frame_psnr[np.isfinite(frame_psnr)].mean()),
            "epe": float(np.mean([epe_of_flows(fd, fc) for fd, fc in zip(flows, self.flows)])),
            "speed_ratio": float(
                np.sum([speed_of_flow(f) for f in flows]) / np.sum([speed_of_flow(f) for f in self.flows])
            ),
        }


def degradation_figures(real: RealClips) -> dict[str, dict[str, float]]:
    """``{degradation: {"psnr", "epe", "speed_ratio"}}``, means over the real clips (each ``(T, H, W, 3)`` uint8)."""
    return {name: real.figures([degrade(c) for c in real.clips]) for name, degrade in DEGRADATIONS.items()}


@torch.no_grad()
def vae_round_trips(model: DynamicsModel, future: np.ndarray) -> dict[str, np.ndarray]:
    """``(T, V, H, W, 3)`` real frames -> the model's VAE round trips, same shape:

    ``clip``: encoded as the dynamics model encodes a future (one causal clip, ``temporal_ratio``
    frames per latent frame); ``frames alone``: every frame encoded as a single image (as memory frames
    are), i.e. without temporal compression.
    """
    codec, frames = model.codec, torch.from_numpy(future)[None]
    clip = codec.decode_frames(codec.encode_future(frames))[0]
    alone = codec.encode_memory(frames)  # (1, V, C, T, h, w), one latent frame per frame
    single = torch.stack([codec.decode_frames(alone[:, :, :, k : k + 1])[0, 0] for k in range(len(future))])
    return {"clip": clip.numpy(), "frames alone": single.numpy()}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="LeRobotDataset v3.0 directory")
    p.add_argument("--episodes", required=True, help="'all' or comma-separated episode indices")
    p.add_argument("--max-windows", type=int, default=16, help="windows, spread as in evaluate dynamics")
    p.add_argument("--size", type=int, nargs=2, default=(96, 128), help="frame height and width (cpu: 96 128)")
    p.add_argument("--frame-cache", help="resized-frame cache of a training run, reused when given")
    p.add_argument(
        "--vae", action="append", default=[], help="dynamics model (or run) whose VAE round trips are scored too"
    )
    p.add_argument("--out", default="benchmarks/results/flow_epe_floor.json")
    args = p.parse_args(argv)
    reader = LeRobotDatasetReader(args.data)
    episodes = choose_episodes(args.episodes, Path(args.data), reader.num_episodes)
    frames = frames_at_size(reader, tuple(args.size), args.frame_cache)
    windows = DynamicsWindowDataset(reader, WindowConfig(pad_end=False), frames)
    ids = pick_windows(windows, episodes, args.max_windows)
    futures = [windows.future_frames(i).numpy() for i in ids]  # (T, V, H, W, 3) each
    views = list(reader.cameras)
    reals = {v: RealClips([f[:, k] for f in futures]) for k, v in enumerate(views)}
    per_view = {v: degradation_figures(reals[v]) for v in views}
    for name, frames_early in EARLY_BY.items():
        early = [windows.future_frames(i, later=frames_early).numpy() for i in ids]
        for k, v in enumerate(views):
            per_view[v][name] = reals[v].figures([e[:, k] for e in early])
    for checkpoint in args.vae:
        model = DynamicsModel.from_pretrained(resolve_model_dir(checkpoint)).eval()
        trips = [vae_round_trips(model, f) for f in futures]
        for mode in ("clip", "frames alone"):
            for k, v in enumerate(views):
                per_view[v][f"{checkpoint}: {mode}"] = reals[v].figures([t[mode][:, k] for t in trips])
    rows = list(per_view[views[0]])
    keys = ("psnr", "epe", "speed_ratio")
    mean = {name: {key: float(np.mean([per_view[v][name][key] for v in views])) for key in keys} for name in rows}
    target = 0.6 * mean["still"]["epe"]
    print(f"\nflow EPE of degraded real clips: {len(ids)} windows of {args.data}; target EPE {target:.2f}")
    width = max(len(name) for name in rows)
    head = f"{'clip':>{width}} | {'PSNR dB':>7} | {'EPE':>5} | {'speed':>5} | "
    print(head + " | ".join(f"{'EPE ' + v:>16}" for v in views))
    for name, fig in mean.items():
        row = " | ".join(f"{per_view[v][name]['epe']:>16.3f}" for v in views)
        print(f"{name:>{width}} | {fig['psnr']:>7.2f} | {fig['epe']:>5.3f} | {fig['speed_ratio']:>5.2f} | {row}")
    figures = {
        "data": args.data,
        "data_fingerprint": reader.fingerprint,
        "windows": len(ids),
        "episode_indices": sorted({int(windows.sample_episode_index[i]) for i in ids}),
        "views": views,
        "epe_target": target,
        "mean": mean,
        "per_view": per_view,
    }
    return write_result_json(args.out, figures)


if __name__ == "__main__":
    main()

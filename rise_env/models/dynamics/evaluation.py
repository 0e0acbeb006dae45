"""Fidelity of imagined futures against recorded ones (the ``dynamics_<task>.json`` figures).

For every window: PSNR, SSIM and flow EPE of the imagined future against the real one, the same
three for the copy-last-frame baseline (the last memory frame repeated), and controllability: the
error under the true actions divided by the error under the actions of another window in the batch
(another episode, same start state and memory). ``psnr_autoencoder`` / ``ssim_autoencoder`` /
``epe_autoencoder`` score the real future passed through the VAE alone (encode, decode): the ceiling
any transformer can reach. ``flow_speed`` / ``flow_speed_autoencoder`` / ``flow_speed_real`` are the mean
flow speeds (pixels/frame) of the imagined, round-tripped and real futures: an imagined clip slower
than the real one has damped or frozen motion, one as fast but with a high EPE moves the wrong way.
``flow_cosine`` / ``flow_cosine_autoencoder`` say which way: the real-speed-weighted cosine between the
imagined (round-tripped) and the real flow, 1 for motion that goes the real way, about 0 for unrelated motion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from rise_env.metrics import (
    controllability_ratio,
    cosine_of_flows,
    dense_flow,
    epe_of_flows,
    psnr,
    speed_of_flow,
    ssim,
)
from rise_env.models.dynamics.model import DynamicsModel


def _per_view(fn, pred: torch.Tensor, real: torch.Tensor) -> np.ndarray:
    """Mean over frames of an image metric, per sample and view ``(B, V)``. Inputs ``(B, T, V, H, W, 3)``."""
    vals = fn(pred, real)  # (B, T, V)
    vals = torch.where(torch.isinf(vals), torch.full_like(vals, 100.0), vals)  # identical -> 100 dB cap
    return vals.mean(1).numpy()


def _flows(video: torch.Tensor) -> list[list[np.ndarray]]:
    """Dense flow of every sample and view, ``[B][V]`` arrays ``(T-1, H, W, 2)``. Input ``(B, T, V, H, W, 3)``."""
    x = video.numpy()
    return [[dense_flow(x[i, :, j]) for j in range(x.shape[2])] for i in range(x.shape[0])]


def _per_flow(fn, *flows: list[list[np.ndarray]]) -> np.ndarray:
    """``fn`` of each sample's and view's flows, ``(B, V)``."""
    return np.array([[fn(*views) for views in zip(*samples)] for samples in zip(*flows)])


_FIDELITY_KEYS = tuple(f"{m}{src}" for src in ("", "_copy_last", "_autoencoder") for m in ("psnr", "ssim", "epe"))
_SPEED_SOURCES = ("", "_autoencoder", "_real")
_SPEED_KEYS = tuple(f"flow_speed{src}" for src in _SPEED_SOURCES)
_COSINE_SOURCES = ("", "_autoencoder")  # copy-last does not move: its cosine is 0
_COSINE_KEYS = tuple(f"flow_cosine{src}" for src in _COSINE_SOURCES)


@torch.no_grad()
def evaluate_dynamics(
    model: DynamicsModel,
    batches: Iterable[dict[str, torch.Tensor]],
    steps: int = 50,
    seed: int = 0,
    max_batches: int | None = None,
    callback: Callable[[dict[str, torch.Tensor], torch.Tensor], None] | None = None,
    guidance: float | None = None,
    guidance_interval: tuple[float, float] | None = None,
) -> dict[str, float | int]:
    """Average fidelity metrics over ``batches`` (keys of ``training.BATCH_KEYS``, batch size >= 2).

    Returns ``episodes`` (windows scored), ``psnr``, ``ssim``, ``epe``, ``psnr_copy_last``,
    ``ssim_copy_last``, ``epe_copy_last``, ``psnr_autoencoder``, ``ssim_autoencoder``, ``epe_autoencoder`` and
    ``controllability_ratio`` (pixel MSE, true / swapped), ``flow_speed``, ``flow_speed_autoencoder``,
    ``flow_speed_real``, ``flow_cosine``, ``flow_cosine_autoencoder``, and ``per_view``: the nine fidelity
    figures, the three speeds and the two cosines per view,
    ``{key: [V floats]}`` (their means are the figures above).
    ``callback(batch, imagined)`` sees every batch with its ``(B, K, V, H, W, 3)`` uint8 prediction.
    ``guidance`` / ``guidance_interval``: action guidance weight and the flow times it applies at, for both
    imaginations (default: the model's config); both reported.
    """
    model.eval()
    rows: dict[str, list[np.ndarray]] = {k: [] for k in (*_FIDELITY_KEYS, *_SPEED_KEYS, *_COSINE_KEYS)}  # (B, V) arrays
    err_true, err_swap = [], []
    for n, batch in enumerate(batches):
        if max_batches is not None and n >= max_batches:
            break
        mem, real = batch["memory_frames"], batch["future_frames"]
        b = mem.shape[0]
        if b < 2:
            raise ValueError("controllability needs batches of at least 2 windows (actions are swapped within)")
        seeds = [seed + n * 10_000 + i for i in range(b)]
        how = dict(
            steps=steps,
            seeds=seeds,
            task_index=batch.get("task_index"),
            guidance=guidance,
            guidance_interval=guidance_interval,
        )
        pred = model.imagine(mem, batch["state"], batch["actions"], **how).cpu()
        swapped = batch["actions"].roll(1, dims=0)
        if callback is not None:
            callback(batch, pred)
        pred_s = model.imagine(mem, batch["state"], swapped, **how).cpu()
        copy = mem[:, -1:].expand_as(real)
        recon = model.codec.decode_frames(model.codec.encode_future(real.to(model.device))).cpu()
        clips = {"": pred, "_copy_last": copy, "_autoencoder": recon}
        flows = {source: _flows(frames) for source, frames in {**clips, "_real": real}.items()}  # once per clip
        for source, frames in clips.items():
            rows[f"psnr{source}"].append(_per_view(psnr, frames, real))
            rows[f"ssim{source}"].append(_per_view(ssim, frames, real))
            rows[f"epe{source}"].append(_per_flow(epe_of_flows, flows[source], flows["_real"]))
        for source in _SPEED_SOURCES:
            rows[f"flow_speed{source}"].append(_per_flow(speed_of_flow, flows[source]))
        for source in _COSINE_SOURCES:
            rows[f"flow_cosine{source}"].append(_per_flow(cosine_of_flows, flows[source], flows["_real"]))
        err_true.append((pred.float() - real.float()).pow(2).reshape(b, -1).mean(1).numpy())
        err_swap.append((pred_s.float() - real.float()).pow(2).reshape(b, -1).mean(1).numpy())
    if not err_true:
        raise ValueError("no batches to evaluate")
    # (V,) each, equal weights per view; a cosine is NaN where the real clip is blank, so it skips those
    per_view = {k: (np.nanmean if k in _COSINE_KEYS else np.mean)(np.concatenate(v), 0) for k, v in rows.items()}
    mean = {k: float(v.mean()) for k, v in per_view.items()}
    return {
        "episodes": int(sum(len(e) for e in err_true)),
        "steps": steps,
        "guidance": model.config.action_guidance if guidance is None else float(guidance),
        "guidance_interval": list(guidance_interval or model.config.action_guidance_interval),
        **mean,
        "controllability_ratio": controllability_ratio(np.concatenate(err_true), np.concatenate(err_swap)),
        "per_view": {k: v.tolist() for k, v in per_view.items()},
    }

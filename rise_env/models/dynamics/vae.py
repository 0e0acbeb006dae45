"""Video autoencoder (diffusers ``AutoencoderKLLTXVideo``): frame <-> latent mapping and its trainer.

Frames are ``(B, T, V, H, W, 3)`` uint8 (or float in [0, 255]); latents are ``(B, V, C, F, h, w)``,
normalised with the VAE's ``latents_mean``/``latents_std`` buffers times ``scaling_factor``.
Memory frames are encoded one image at a time (one latent frame each, GE's approach); the future
clip of ``1 + k * r`` frames is encoded causally into ``1 + k`` latent frames and decoded back.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLLTXVideo
from torch import nn


def build_vae(kwargs: dict[str, Any]) -> AutoencoderKLLTXVideo:
    """An ``AutoencoderKLLTXVideo`` from a preset dict (see ``config.CPU_VAE`` / ``LTX_VAE_091``)."""
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    n = len(kw.get("block_out_channels", (128, 256, 512, 512)))
    kw.setdefault("down_block_types", ("LTXVideoDownBlock3D",) * n)
    kw.setdefault("downsample_type", ("conv",) * n)
    return AutoencoderKLLTXVideo(**kw)


def frames_to_video(frames: torch.Tensor) -> torch.Tensor:
    """``(B, T, V, H, W, 3)`` uint8/float[0,255] -> ``(B*V, 3, T, H, W)`` float in [-1, 1]."""
    if frames.ndim != 6 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (B, T, V, H, W, 3), got shape {tuple(frames.shape)}")
    b, t, v, h, w, _ = frames.shape
    x = frames.permute(0, 2, 5, 1, 3, 4).reshape(b * v, 3, t, h, w)
    return x.float() / 127.5 - 1.0


def video_to_frames(video: torch.Tensor, batch: int) -> torch.Tensor:
    """``(B*V, 3, T, H, W)`` in [-1, 1] -> ``(B, T, V, H, W, 3)`` uint8."""
    bv, _, t, h, w = video.shape
    x = ((video.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.reshape(batch, bv // batch, 3, t, h, w).permute(0, 3, 1, 4, 5, 2).contiguous()


class LatentCodec(nn.Module):
    """Wraps the VAE with the memory/future frame mapping and latent normalisation."""

    def __init__(self, vae: AutoencoderKLLTXVideo, decode_timestep: float = 0.0) -> None:
        super().__init__()
        self.vae = vae
        self.decode_timestep = decode_timestep

    @property
    def scale(self) -> float:
        return float(self.vae.config.scaling_factor)

    def _norm(self, z: torch.Tensor) -> torch.Tensor:
        mean = self.vae.latents_mean.view(1, -1, 1, 1, 1).to(z)
        std = self.vae.latents_std.view(1, -1, 1, 1, 1).to(z)
        return (z - mean) * self.scale / std

    def _denorm(self, z: torch.Tensor) -> torch.Tensor:
        mean = self.vae.latents_mean.view(1, -1, 1, 1, 1).to(z)
        std = self.vae.latents_std.view(1, -1, 1, 1, 1).to(z)
        return z * std / self.scale + mean

    @torch.no_grad()
    def fit_stats(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Set the VAE's ``latents_mean``/``latents_std`` buffers from ``(B, T, V, H, W, 3)`` frames so
        normalised latents have zero mean and unit std per channel (do this once after VAE training)."""
        dist = self.vae.encode(frames_to_video(frames.to(self.vae.device)).to(self.vae.dtype)).latent_dist
        z = dist.mode().transpose(0, 1).reshape(self.vae.latents_mean.numel(), -1).float()
        mean, std = z.mean(1), z.std(1).clamp_min(1e-4) * self.scale
        self.vae.latents_mean.copy_(mean)
        self.vae.latents_std.copy_(std)
        return mean, std

    def _encode(self, video: torch.Tensor, sample: bool, generator: torch.Generator | None) -> torch.Tensor:
        dist = self.vae.encode(video.to(self.vae.dtype)).latent_dist
        return self._norm(dist.sample(generator) if sample else dist.mode())

    def encode_memory(
        self, frames: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, M, V, H, W, 3)`` -> ``(B, V, C, M, h, w)``: every frame encoded as a single image."""
        b, m, v = frames.shape[:3]
        video = frames_to_video(frames.reshape(b * m, 1, v, *frames.shape[3:]))  # (B*M*V, 3, 1, H, W)
        z = self._encode(video, sample, generator)  # (B*M*V, C, 1, h, w)
        z = z.reshape(b, m, v, *z.shape[1:]).squeeze(4)  # (B, M, V, C, h, w)
        return z.permute(0, 2, 3, 1, 4, 5).contiguous()

    def encode_future(
        self, frames: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, T, V, H, W, 3)`` with ``T = 1 + k r`` -> ``(B, V, C, 1 + k, h, w)`` (causal clip)."""
        b, _, v = frames.shape[:3]
        z = self._encode(frames_to_video(frames), sample, generator)
        return z.reshape(b, v, *z.shape[1:])

    def decode(self, latents: torch.Tensor, noise_seed: int = 0) -> torch.Tensor:
        """``(B, V, C, F, h, w)`` normalised latents -> ``(B*V, 3, 1 + (F-1) r, H, W)`` in [-1, 1].

        Decoders that inject noise (LTX 0.9.1) draw it under a private RNG seeded with
        ``noise_seed``, so decoding is deterministic and leaves the global RNG untouched.
        """
        b, v = latents.shape[:2]
        z = self._denorm(latents.reshape(b * v, *latents.shape[2:])).to(self.vae.dtype)
        temb = None
        if getattr(self.vae.config, "timestep_conditioning", False):
            temb = torch.full((z.shape[0],), self.decode_timestep, device=z.device, dtype=z.dtype)
        if not any(self.vae.config.decoder_inject_noise):
            return self.vae.decode(z, temb=temb).sample
        devices = [z.device] if z.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(noise_seed)
            return self.vae.decode(z, temb=temb).sample

    def decode_frames(self, latents: torch.Tensor) -> torch.Tensor:
        """``(B, V, C, F, h, w)`` -> ``(B, T, V, H, W, 3)`` uint8."""
        return video_to_frames(self.decode(latents), latents.shape[0])


def motion_l1(rec: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """L1 between the frame-to-frame differences of two ``(N, 3, T, H, W)`` videos (0 when T = 1).

    Plain reconstruction losses forgive a decoder that blurs or flickers between frames; this term
    charges it for motion that is missing or invented, which is what the flow EPE measures.
    """
    if video.shape[2] < 2:
        return video.new_zeros(())
    return F.l1_loss(rec.diff(dim=2), video.diff(dim=2))


def vae_loss(
    vae: AutoencoderKLLTXVideo,
    video: torch.Tensor,
    kl_weight: float = 1e-6,
    generator: torch.Generator | None = None,
    motion_weight: float = 0.0,
    decoder_only: bool = False,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Reconstruction (L1 + L2 + ``motion_weight`` x :func:`motion_l1`) plus a small KL, on
    ``(N, 3, T, H, W)`` video in [-1, 1].

    ``decoder_only``: the encoder's posterior mode is decoded (the latents the transformer is
    trained on) with no gradient into the encoder and no KL term.
    """
    if decoder_only:
        with torch.no_grad():
            dist = vae.encode(video).latent_dist
            z = dist.mode()
    else:
        dist = vae.encode(video).latent_dist
        z = dist.sample(generator)
    temb = None
    if getattr(vae.config, "timestep_conditioning", False):
        temb = torch.zeros(video.shape[0], device=video.device, dtype=video.dtype)
    rec = vae.decode(z, temb=temb).sample
    l1 = F.l1_loss(rec, video)
    l2 = F.mse_loss(rec, video)
    motion = motion_l1(rec, video)
    kl = video.new_zeros(()) if decoder_only else 0.5 * (dist.mean.pow(2) + dist.var - 1.0 - dist.logvar).mean()
    loss = l1 + l2 + motion_weight * motion + kl_weight * kl
    stats = {"loss": loss.item(), "l1": l1.item(), "l2": l2.item(), "motion": motion.item(), "kl": kl.item()}
    return loss, stats


class AutoencoderTrainer:
    """AdamW on the VAE with L1 + L2 (+ motion) + small-KL loss.

    ``decoder_only`` trains the decoder alone on the frozen encoder's latents: the latent space
    stays the same, so a transformer trained on it keeps working with the new decoder.

    Example:
        >>> from rise_env.models.dynamics.config import TINY_VAE
        >>> trainer = AutoencoderTrainer(build_vae(TINY_VAE), lr=1e-3)
        >>> stats = trainer.step(torch.zeros(1, 3, 1, 2, 32, 32, 3, dtype=torch.uint8)[:, 0])
        >>> sorted(stats)
        ['kl', 'l1', 'l2', 'loss', 'motion']
    """

    def __init__(
        self,
        vae: AutoencoderKLLTXVideo,
        lr: float = 1e-4,
        kl_weight: float = 1e-6,
        weight_decay: float = 0.0,
        motion_weight: float = 0.0,
        decoder_only: bool = False,
    ):
        self.vae = vae
        self.kl_weight = kl_weight
        self.motion_weight = motion_weight
        self.decoder_only = decoder_only
        trained = vae.decoder if decoder_only else vae
        trained.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(trained.parameters(), lr=lr, weight_decay=weight_decay)

    def step(
        self, frames: torch.Tensor, generator: torch.Generator | None = None, lr: float | None = None
    ) -> dict[str, float]:
        """One update on ``(B, T, V, H, W, 3)`` frames (``T = 1 + k r``), at ``lr`` when given (else the
        last one set); returns the loss terms."""
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        return train_vae_step(
            self.vae,
            frames,
            self.optimizer,
            self.kl_weight,
            generator,
            motion_weight=self.motion_weight,
            decoder_only=self.decoder_only,
        )


def train_vae_step(
    vae: AutoencoderKLLTXVideo,
    frames: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    kl_weight: float = 1e-6,
    generator: torch.Generator | None = None,
    max_grad_norm: float = 1.0,
    motion_weight: float = 0.0,
    decoder_only: bool = False,
) -> dict[str, float]:
    """One optimisation step of the VAE (or its decoder alone) on ``(B, T, V, H, W, 3)`` frames."""
    vae.train()
    if decoder_only:
        vae.encoder.eval()
    video = frames_to_video(frames.to(next(vae.parameters()).device))
    loss, stats = vae_loss(vae, video, kl_weight, generator, motion_weight, decoder_only)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(vae.parameters(), max_grad_norm)  # the frozen encoder has no grads
    optimizer.step()
    return stats

"""Configuration and named presets of the controllable dynamics model.

Frame/latent layout: each of the ``memory_frames`` (4) history frames is encoded *as a single
image* (GE's approach), so it becomes one latent frame; the ``future_frames`` (25 = 1 + k * temporal
ratio) imagined frames are encoded as one causal clip, giving ``1 + 24 // ratio`` latent frames (the
first holds future frame 0 alone).

* ``ge`` / ``ltx``: LTX-Video's VAE (32x spatial, 8x temporal) at the dataset's resolution: 4 + 4 latent
  frames of 6 x 8 latents at 192x256, 48 tokens each at transformer patch 1.
* ``cpu``: 96x128 frames (the policy's resolution), a narrow LTX VAE with 16x spatial and 4x temporal
  compression: 4 + 7 latent frames of 6 x 8 latents, 12 tokens each at patch 2, 396 for three views.
  Frames of a larger dataset are resized to the preset's resolution (``rise_env.data.frames``).
* ``cpu-fine``: the ``cpu`` layout with an 8x spatial VAE: 12 x 16 latents, patch 4, the same 396
  tokens.
* ``cpu-fine-t2``: ``cpu-fine`` with 2x temporal compression: 4 + 13 latent frames, 612 tokens.
* ``cpu-fine-t2-c8``: ``cpu-fine-t2`` with 8 latent channels instead of 32, so that a token's 4 x 4 x 8
  latent values match the transformer's width (128), as the ``cpu`` preset's 2 x 2 x 32 do.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rise_env.models.dynamics.sampler import check_guidance_interval
from rise_env.spec.robot import agilex_cobot_magic

# LTX-Video 0.9.0 VAE (diffusers' default config; 32x32x8 compression, 128 latent channels).
LTX_VAE_090: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 128,
    "block_out_channels": [128, 256, 512, 512],
    "decoder_block_out_channels": [128, 256, 512, 512],
    "layers_per_block": [4, 3, 3, 3, 4],
    "decoder_layers_per_block": [4, 3, 3, 3, 4],
    "spatio_temporal_scaling": [True, True, True, False],
    "decoder_spatio_temporal_scaling": [True, True, True, False],
    "decoder_inject_noise": [False, False, False, False, False],
    "upsample_residual": [False, False, False, False],
    "upsample_factor": [1, 1, 1, 1],
    "timestep_conditioning": False,
    "patch_size": 4,
    "patch_size_t": 1,
    "encoder_causal": True,
    "decoder_causal": False,
}

# LTX-Video 0.9.1 VAE: same encoder, wider timestep-conditioned decoder (the one GE/RISE decode with
# ``decode_timestep 0.03`` / ``decode_noise_scale 0.025``).
LTX_VAE_091: dict[str, Any] = {
    **LTX_VAE_090,
    "decoder_block_out_channels": [256, 512, 1024],
    "decoder_layers_per_block": [5, 6, 7, 8],
    "decoder_spatio_temporal_scaling": [True, True, True],
    "decoder_inject_noise": [True, True, True, False],
    "upsample_residual": [True, True, True],
    "upsample_factor": [2, 2, 2],
    "timestep_conditioning": True,
}

# CPU VAE: LTX blocks (patch 4 + two 2x2x2 stages = 16x spatial, 4x temporal) with narrow channels and
# one resnet per stage. At 96x128 it keeps a 6 x 8 latent grid (32 channels: 96x fewer values than
# pixels, against 768x for LTX's 32x32x8 geometry at this width), which is what limits reconstruction
# on this data: 32x spatial at 192x256 capped held-out reconstructions at 18.4 dB PSNR. Encoding the
# memory and decoding a chunk cost ~0.1 s on one core.
CPU_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 32,
    "block_out_channels": [16, 64, 96],
    "decoder_block_out_channels": [16, 64, 96],
    "layers_per_block": [1, 1, 1, 1],
    "decoder_layers_per_block": [1, 1, 1, 1],
    "spatio_temporal_scaling": [True, True, False],
    "decoder_spatio_temporal_scaling": [True, True, False],
    "decoder_inject_noise": [False, False, False, False],
    "upsample_residual": [False, False, False],
    "upsample_factor": [1, 1, 1],
    "timestep_conditioning": False,
    "patch_size": 4,
    "patch_size_t": 1,
    "encoder_causal": True,
    "decoder_causal": False,
}

# CPU VAE at 8x spatial (patch 2 instead of 4; 12 x 16 latents, 24x fewer values than pixels). Trained
# 1500 steps on 2 cores it reconstructs held-out twin chunks at 24.3 dB, SSIM 0.87 (the cpu VAE with a
# tuned decoder: 23.6 dB, 0.83) but with the same flow EPE (0.99 vs 1.02), at 3x the decode cost: a
# chunk takes 461 ms on 2 cores against cpu's 262 (docs/dynamics_model.md).
CPU_FINE_VAE: dict[str, Any] = {**CPU_VAE, "patch_size": 2}

# CPU VAE at 8x spatial and 2x temporal compression: patch 4 and a single 2x2x2 stage (diffusers'
# LTX decoder only upsamples space and time together, so less temporal compression means a larger
# patch). 25 future frames become 13 latent frames of 12 x 16 instead of 7.
CPU_FINE_T2_VAE: dict[str, Any] = {
    **CPU_VAE,
    "spatio_temporal_scaling": [True, False, False],
    "decoder_spatio_temporal_scaling": [True, False, False],
}

# cpu-fine-t2 with 8 latent channels: a patch-4 token then holds 4 x 4 x 8 = 128 latent values, the
# transformer's width (with 32 channels it holds 512, which a width-128 output layer cannot all set).
CPU_FINE_T2_C8_VAE: dict[str, Any] = {**CPU_FINE_T2_VAE, "latent_channels": 8}

# Test-only VAE: 8x spatial, 2x temporal, a handful of channels (32x32 toy videos).
TINY_VAE: dict[str, Any] = {
    **CPU_VAE,
    "latent_channels": 8,
    "block_out_channels": [16, 16],
    "decoder_block_out_channels": [16, 16],
    "layers_per_block": [1, 1, 1],
    "decoder_layers_per_block": [1, 1, 1],
    "spatio_temporal_scaling": [True, False],
    "decoder_spatio_temporal_scaling": [True, False],
    "decoder_inject_noise": [False, False, False],
    "upsample_residual": [False, False],
    "upsample_factor": [1, 1],
}


class TransformerConfig(BaseModel):
    """LTX-Video transformer dimensions plus the action/view/task extensions."""

    model_config = ConfigDict(frozen=True)

    num_layers: int = Field(4, gt=0, description="Transformer blocks (LTX-2B: 28).")
    num_attention_heads: int = Field(4, gt=0, description="Attention heads (LTX-2B: 32).")
    attention_head_dim: int = Field(32, gt=0, description="Channels per head (LTX-2B: 64).")
    caption_channels: int = Field(64, gt=0, description="Width of cached text embeddings (T5-XXL: 4096).")
    patch_size: int = Field(
        2, gt=0, description="Spatial patch of latents into tokens (LTX: 1; cpu: 2 -> 12 tokens per latent frame)."
    )
    num_tasks: int = Field(8, ge=0, description="Rows of the learned per-task embedding table.")
    task_tokens: int = Field(4, gt=0, description="Cross-attention tokens per task embedding.")
    max_views: int = Field(3, gt=0, description="Rows of the learned view embedding (GE: 3).")
    cross_view_every: int = Field(3, ge=0, description="Blocks with idx % n == 0 attend across views; 0 = never.")
    cross_view_mode: Literal["joint", "same_frame"] = Field(
        "joint",
        description="'joint': all tokens of all views attend to each other (GE); "
        "'same_frame': only tokens of the same latent frame across views.",
    )
    action_hidden: int = Field(128, gt=0, description="Hidden width of the action-encoder MLP.")
    max_action_tokens: int = Field(64, gt=0, description="Size of the learned action-time position table.")

    @property
    def inner_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim


class DynamicsConfig(BaseModel):
    """Everything needed to rebuild a :class:`DynamicsModel` (saved as ``config.json``)."""

    model_config = ConfigDict(frozen=True)

    preset: str = Field("cpu", description="Name of the preset this config started from.")
    views: int = Field(3, gt=0, description="Camera views per sample (top, left wrist, right wrist).")
    height: int = Field(192, gt=0, description="Frame height in pixels (multiple of the VAE spatial ratio).")
    width: int = Field(256, gt=0, description="Frame width in pixels (multiple of the VAE spatial ratio).")
    memory_frames: int = Field(4, gt=0, description="History frames, each encoded as one latent frame.")
    future_frames: int = Field(25, gt=0, description="Imagined frames per chunk (1 + k * temporal ratio).")
    action_dim: int = Field(14, gt=0, description="Action and state dimension.")
    action_horizon: int = Field(50, gt=0, description="Policy action-chunk length (30 Hz steps).")
    action_stride: int = Field(2, gt=0, description="Subsampling of the chunk for the world model (50 -> 25).")
    action_delta: bool = Field(
        False,
        description="Also give every action token its offset from the current state (normalised action minus "
        "normalised state): the motion the chunk asks for, which absolute joint targets only imply.",
    )
    action_low: list[float] = Field(
        default_factory=lambda: [float(v) for v in agilex_cobot_magic().action_limits()[0]],
        description="Per-dimension minimum used to normalise actions and state to [-1, 1].",
    )
    action_high: list[float] = Field(
        default_factory=lambda: [float(v) for v in agilex_cobot_magic().action_limits()[1]],
        description="Per-dimension maximum used to normalise actions and state to [-1, 1].",
    )
    null_action: bool = Field(
        False, description="Learn a null action (trained by action dropout) for classifier-free action guidance."
    )
    action_guidance: float = Field(
        1.0,
        ge=0.0,
        description="Default guidance weight w when sampling: v = v_null + w (v_actions - v_null); 1 = plain "
        "conditional sampling (one network call per step), > 1 follows the actions more strongly (two calls).",
    )
    action_guidance_interval: tuple[float, float] = Field(
        (0.0, 1.0),
        description="Flow times (lo, hi], t = 1 noise and 0 data, at whose Euler steps action guidance applies; the "
        "other steps are plain (one call). (0, 1] guides every step, (0.5, 1] the noisier half.",
    )
    vae: dict[str, Any] = Field(default_factory=lambda: dict(CPU_VAE), description="AutoencoderKLLTXVideo kwargs.")
    transformer: TransformerConfig = Field(default_factory=TransformerConfig, description="Transformer dims.")
    context_noise: float = Field(0.2, ge=0.0, lt=1.0, description="Flow noise level put on memory latents in training.")
    logit_mean: float = Field(0.2, description="Mean m of the logit-normal training t.")
    logit_std: float = Field(1.0, gt=0.0, description="Std s of the logit-normal training t.")
    sample_steps: int = Field(10, gt=0, description="Default Euler steps (10 online, 50 for evaluation).")
    rope_frame_rate: float = Field(25.0, gt=0.0, description="Frame rate in LTX's RoPE interpolation scale.")

    @field_validator("action_guidance_interval")
    @classmethod
    def _check_interval(cls, interval: tuple[float, float]) -> tuple[float, float]:
        return check_guidance_interval(interval)

    def check_guidance(self, guidance: float) -> None:
        """Raise unless action guidance ``guidance`` can be sampled: w != 1 needs the learned null action."""
        if guidance != 1.0 and not self.null_action:
            raise ValueError(
                f"action guidance={guidance} needs a null action (null_action=True, trained with action dropout)"
            )

    @model_validator(mode="after")
    def _check(self) -> DynamicsConfig:
        if len(self.action_low) != self.action_dim or len(self.action_high) != self.action_dim:
            raise ValueError(
                f"action_low/action_high must have action_dim={self.action_dim} values, "
                f"got {len(self.action_low)} and {len(self.action_high)}"
            )
        if any(h <= lo for lo, h in zip(self.action_low, self.action_high)):
            raise ValueError("every action_high value must be greater than its action_low")
        self.check_guidance(self.action_guidance)
        if self.action_horizon // self.action_stride != self.future_frames:
            raise ValueError(
                f"action_horizon / action_stride = {self.action_horizon // self.action_stride} world-model actions "
                f"must equal future_frames={self.future_frames} (one action per imagined frame)"
            )
        if self.action_horizon % self.action_stride:
            raise ValueError(
                f"action_horizon {self.action_horizon} is not a multiple of action_stride {self.action_stride}"
            )
        sc, tc = self.spatial_ratio, self.temporal_ratio
        if self.height % sc or self.width % sc:
            raise ValueError(f"height/width {self.height}x{self.width} must be multiples of the VAE ratio {sc}")
        if (self.future_frames - 1) % tc:
            raise ValueError(f"future_frames must be 1 + k * {tc} for this VAE, got {self.future_frames}")
        p = self.transformer.patch_size
        if (self.height // sc) % p or (self.width // sc) % p:
            raise ValueError(f"latent grid {self.height // sc}x{self.width // sc} is not divisible by patch_size {p}")
        if self.transformer.max_views < self.views:
            raise ValueError(f"transformer.max_views {self.transformer.max_views} < views {self.views}")
        return self

    @property
    def spatial_ratio(self) -> int:
        return int(self.vae.get("patch_size", 4)) * 2 ** sum(self.vae["spatio_temporal_scaling"])

    @property
    def temporal_ratio(self) -> int:
        return int(self.vae.get("patch_size_t", 1)) * 2 ** sum(self.vae["spatio_temporal_scaling"])

    @property
    def latent_channels(self) -> int:
        return int(self.vae["latent_channels"])

    @property
    def future_latent_frames(self) -> int:
        return 1 + (self.future_frames - 1) // self.temporal_ratio

    @property
    def action_tokens(self) -> int:
        return self.action_horizon // self.action_stride

    @property
    def latent_hw(self) -> tuple[int, int]:
        return self.height // self.spatial_ratio, self.width // self.spatial_ratio


_LTX_2B = TransformerConfig(
    patch_size=1,
    num_layers=28,
    num_attention_heads=32,
    attention_head_dim=64,
    caption_channels=4096,
    num_tasks=16,
    task_tokens=8,
    action_hidden=2048,
)

PRESETS: dict[str, dict[str, Any]] = {
    # Trains on 2 CPU cores; width 128 x 4 blocks at patch 2 (396 tokens) imagines a chunk (3 views x 25
    # frames at 96x128, 10 steps, memory encode + decode) in ~0.35 s on two 2.8 GHz cores.
    "cpu": {"preset": "cpu", "height": 96, "width": 128, "action_delta": True, "null_action": True},
    # The cpu transformer on the 8x VAE's 12 x 16 latents; patch 4 keeps 12 tokens per latent frame.
    "cpu-fine": {
        "preset": "cpu-fine",
        "height": 96,
        "width": 128,
        "action_delta": True,
        "null_action": True,
        "vae": dict(CPU_FINE_VAE),
        "transformer": TransformerConfig(patch_size=4),
    },
    # cpu-fine with 2x temporal compression: 13 future latent frames, 612 tokens.
    "cpu-fine-t2": {
        "preset": "cpu-fine-t2",
        "height": 96,
        "width": 128,
        "action_delta": True,
        "null_action": True,
        "vae": dict(CPU_FINE_T2_VAE),
        "transformer": TransformerConfig(patch_size=4),
    },
    # LTX-Video 2B / GE-base dims, LTX-Video 0.9.1 VAE (GE-base weights load into this).
    "ge": {"preset": "ge", "vae": dict(LTX_VAE_091), "transformer": _LTX_2B, "sample_steps": 10},
    # Same transformer with the LTX-Video 0.9.0 VAE.
    "ltx": {"preset": "ltx", "vae": dict(LTX_VAE_090), "transformer": _LTX_2B, "sample_steps": 10},
    # Test-only toy: 32x32 frames, 5 future frames, 2 layers.
    "tiny": {
        "preset": "tiny",
        "height": 32,
        "width": 32,
        "future_frames": 5,
        "action_horizon": 10,
        "vae": dict(TINY_VAE),
        "transformer": TransformerConfig(
            patch_size=1,
            num_layers=2,
            num_attention_heads=2,
            attention_head_dim=16,
            caption_channels=16,
            num_tasks=2,
            task_tokens=1,
            action_hidden=64,
        ),
    },
}

# cpu-fine-t2 with 8 latent channels: as many latent values per token as the transformer is wide.
PRESETS["cpu-fine-t2-c8"] = {**PRESETS["cpu-fine-t2"], "preset": "cpu-fine-t2-c8", "vae": dict(CPU_FINE_T2_C8_VAE)}


def get_preset(name: str, **overrides: Any) -> DynamicsConfig:
    """Config of a named preset (a key of ``PRESETS``: ``cpu``, ``cpu-fine*``, ``ge``, ``ltx``, ``tiny``),
    with field overrides.

    Raises:
        KeyError: unknown name, with the closest preset names suggested.
    """
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=2)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown dynamics preset {name!r}{hint} (known: {', '.join(PRESETS)})")
    return DynamicsConfig(**{**PRESETS[name], **overrides})

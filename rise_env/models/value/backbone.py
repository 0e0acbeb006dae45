"""The VLA prefix without the action expert, under the same parameter names as ``Pi05VLA``.

``PrefixBackbone`` is meant to sit at attribute ``paligemma_with_expert`` of its parent, so the
parameter names read ``paligemma_with_expert.paligemma.model.{vision_tower,multi_modal_projector,
language_model}.*`` exactly as in a policy checkpoint or a converted openpi / LeRobot π0.5 checkpoint
(the expert's ``gemma_expert.*`` tensors are simply not built). Its forward equals
``Pi05VLA.encode_prefix(...).hidden`` for the same weights (tested).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from rise_env.models.vla.config import VLAConfig
from rise_env.models.vla.gemma import GemmaDecoderLayer, GemmaModel, PaliGemma
from rise_env.models.vla.layers import apply_rope, attention, rope_cos_sin
from rise_env.models.vla.masks import make_att_2d_masks, positions_from_pad

PREFIX_KEY_PREFIX = "paligemma_with_expert.paligemma."


def _prefix_layer(layer: GemmaDecoderLayer, x: Tensor, cos: Tensor, sin: Tensor, allowed: Tensor) -> Tensor:
    """One pre-norm Gemma layer of the prefix stack alone. x: (B, L, W) → (B, L, W)."""
    h, _ = layer.input_layernorm(x)
    q, k, v = layer.self_attn.qkv(h)
    att = attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v, allowed)
    x = x + layer.self_attn.o_proj(att)
    h, _ = layer.post_attention_layernorm(x)
    return x + layer.mlp(h)


class PrefixBackbone(nn.Module):
    """SigLIP vision tower + projector + Gemma prefix stack (bidirectional over images and prompt)."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.paligemma = PaliGemma(cfg.vision, cfg.vlm, cfg.vocab_size)
        self.gradient_checkpointing = False

    @property
    def language_model(self) -> GemmaModel:
        return self.paligemma.model.language_model

    def embed_images(self, images: Tensor) -> Tensor:
        """images: (B, V, 3, H, W) in [-1, 1] → image tokens (B, V·N, vlm width)."""
        nv = len(self.cfg.camera_names)
        if images.ndim != 5 or images.shape[1] != nv or images.shape[2] != 3:
            raise ValueError(
                f"images must be (B, {nv}, 3, H, W) for views {self.cfg.camera_names}; got {tuple(images.shape)}"
            )
        pali = self.paligemma.model
        tokens = pali.multi_modal_projector(pali.vision_tower(images.flatten(0, 1)))
        return tokens.reshape(images.shape[0], nv * tokens.shape[1], tokens.shape[2])

    def forward(self, images: Tensor, image_masks: Tensor, tokens: Tensor, token_mask: Tensor) -> tuple[Tensor, Tensor]:
        """images: (B, V, 3, H, W) in [-1, 1]; image_masks: (B, V) bool; tokens / token_mask: (B, T).

        Returns the final-normed prefix hidden states (B, V·N + T, W) and their validity mask (B, V·N + T).
        """
        img = self.embed_images(images)
        per_view = img.shape[1] // images.shape[1]
        lang = self.language_model.embed_tokens(tokens)
        lang = lang * math.sqrt(lang.shape[-1])
        x = torch.cat([img, lang.to(img.dtype)], dim=1)
        pad = torch.cat([image_masks.bool().repeat_interleave(per_view, dim=1), token_mask.bool()], dim=1)
        allowed = make_att_2d_masks(pad, torch.zeros_like(pad, dtype=torch.long))
        cfg = self.cfg.vlm
        cos, sin = rope_cos_sin(positions_from_pad(pad), cfg.head_dim, cfg.rope_theta)
        for layer in self.language_model.layers:
            if self.gradient_checkpointing and self.training:
                x = checkpoint(_prefix_layer, layer, x, cos, sin, allowed, use_reentrant=False)
            else:
                x = _prefix_layer(layer, x, cos, sin, allowed)
        return self.language_model.norm(x)[0], pad


def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean over valid tokens. hidden: (B, L, W), mask: (B, L) bool → (B, W) (float32)."""
    m = mask.to(torch.float32)[..., None]
    return (hidden.float() * m).sum(1) / m.sum(1).clamp(min=1.0)

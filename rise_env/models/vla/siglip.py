"""SigLIP vision tower (pre-LN ViT, no pooling head), written with the HF/openpi parameter names.

Layout under ``vision_tower.vision_model``::

    embeddings.patch_embedding.{weight,bias}      Conv2d(3, width, patch, stride=patch)
    embeddings.position_embedding.weight          (num_patches, width), learned
    encoder.layers.{i}.layer_norm1.{weight,bias}
    encoder.layers.{i}.self_attn.{q,k,v,out}_proj.{weight,bias}
    encoder.layers.{i}.layer_norm2.{weight,bias}
    encoder.layers.{i}.mlp.fc1.{weight,bias} / mlp.fc2.{weight,bias}   (gelu-tanh)
    post_layernorm.{weight,bias}
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from rise_env.models.vla.config import VisionConfig


class SiglipEmbeddings(nn.Module):
    """Patchify + learned position embedding: (B, 3, H, W) → (B, N, width)."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embedding = nn.Conv2d(3, cfg.width, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.position_embedding = nn.Embedding(cfg.num_patches, cfg.width)

    def forward(self, pixels: Tensor) -> Tensor:
        if pixels.ndim != 4 or pixels.shape[1] != 3 or tuple(pixels.shape[2:]) != tuple(self.cfg.image_size):
            raise ValueError(
                f"images must be (B, 3, {self.cfg.image_size[0]}, {self.cfg.image_size[1]}) in [-1, 1]; "
                f"got {tuple(pixels.shape)}"
            )
        x = self.patch_embedding(pixels.to(self.patch_embedding.weight.dtype))
        x = x.flatten(2).transpose(1, 2)
        return x + self.position_embedding.weight[None]


class SiglipAttention(nn.Module):
    """Bidirectional multi-head self-attention with biases."""

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        b, n, w = x.shape
        q, k, v = (p(x).view(b, n, self.num_heads, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, w))


class SiglipMLP(nn.Module):
    def __init__(self, width: int, mlp_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class SiglipEncoderLayer(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.self_attn = SiglipAttention(cfg.width, cfg.num_heads)
        self.layer_norm2 = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)
        self.mlp = SiglipMLP(cfg.width, cfg.mlp_dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class SiglipEncoder(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(SiglipEncoderLayer(cfg) for _ in range(cfg.depth))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class SiglipVisionTransformer(nn.Module):
    """``vision_model``: embeddings → encoder → post_layernorm; returns all patch tokens."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.embeddings = SiglipEmbeddings(cfg)
        self.encoder = SiglipEncoder(cfg)
        self.post_layernorm = nn.LayerNorm(cfg.width, eps=cfg.layer_norm_eps)

    def forward(self, pixels: Tensor) -> Tensor:
        """pixels: (B, 3, H, W) in [-1, 1] → tokens (B, num_patches, width)."""
        return self.post_layernorm(self.encoder(self.embeddings(pixels)))


class SiglipVisionModel(nn.Module):
    """``vision_tower``: a thin holder so parameter names read ``vision_tower.vision_model.*``."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.vision_model = SiglipVisionTransformer(cfg)

    def forward(self, pixels: Tensor) -> Tensor:
        return self.vision_model(pixels)

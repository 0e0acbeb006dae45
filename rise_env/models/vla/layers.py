"""Building blocks shared by the Gemma prefix and the action expert.

Module attribute names follow the Hugging Face / openpi layout so that parameter names
match converted π0.5 checkpoints (``input_layernorm.weight``, ``input_layernorm.dense.weight``,
``mlp.gate_proj.weight`` ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Additive mask value used by openpi for disallowed attention (finite, so fully masked
# padding rows give a uniform softmax instead of NaN).
MASK_VALUE = -2.3819763e38


class RMSNorm(nn.Module):
    """Gemma RMSNorm: ``x · rsqrt(mean(x²) + eps) · (1 + w)`` with ``w`` zero-initialised."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, None]:
        """x: (..., D) → (normed (..., D), None); ``cond`` is accepted and ignored."""
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (normed * (1.0 + self.weight.float())).to(x.dtype), None


class AdaRMSNorm(nn.Module):
    """Adaptive RMSNorm of the π0.5 action expert.

    ``dense(cond) → (scale, shift, gate)``; output ``normed · (1 + scale) + shift`` and the gate
    multiplies the branch in the residual (``x + y · gate``). ``dense.weight`` is zero-initialised,
    so at init the norm has no learned scale and the gate equals ``dense.bias``.
    """

    def __init__(self, dim: int, cond_dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.dense = nn.Linear(cond_dim, 3 * dim)
        nn.init.zeros_(self.dense.weight)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x: (B, L, D), cond: (B, C) → (normed (B, L, D), gate (B, 1, D))."""
        if cond is None:
            raise ValueError("AdaRMSNorm needs the timestep condition `cond` of shape (B, cond_dim)")
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        scale, shift, gate = self.dense(cond)[:, None, :].chunk(3, dim=-1)
        normed = normed * (1.0 + scale.float()) + shift.float()
        return normed.to(x.dtype), gate.to(x.dtype)


def gated_residual(x: Tensor, y: Tensor, gate: Tensor | None) -> Tensor:
    """``x + y`` or ``x + y · gate``."""
    return x + y if gate is None else x + y * gate


class GemmaMLP(nn.Module):
    """GeGLU MLP: ``down(gelu_tanh(gate(x)) · up(x))``, no biases."""

    def __init__(self, width: int, mlp_dim: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(width, mlp_dim, bias=False)
        self.up_proj = nn.Linear(width, mlp_dim, bias=False)
        self.down_proj = nn.Linear(mlp_dim, width, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.gelu(self.gate_proj(x), approximate="tanh") * self.up_proj(x))


def rope_cos_sin(positions: Tensor, head_dim: int, theta: float) -> tuple[Tensor, Tensor]:
    """positions: (B, L) int → cos, sin each (B, 1, L, head_dim) float32 (half-split RoPE)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim))
    freqs = positions.float()[..., None] * inv_freq  # (B, L, head_dim/2)
    emb = torch.cat([freqs, freqs], dim=-1)[:, None]
    return emb.cos(), emb.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x: (B, heads, L, head_dim) rotated with the half-split convention of HF Gemma."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)


def attention(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor) -> Tensor:
    """Scaled dot-product attention with grouped KV heads and a boolean mask.

    q: (B, Hq, Lq, d); k, v: (B, Hkv, Lk, d); allowed: (B, Lq, Lk) bool.
    Returns (B, Lq, Hq·d). Disallowed logits get ``MASK_VALUE`` (finite, as openpi).
    """
    b, hq, lq, d = q.shape
    groups = hq // k.shape[1]
    if groups > 1:
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
    bias = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed, MASK_VALUE)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias[:, None])
    return out.transpose(1, 2).reshape(b, lq, hq * d)

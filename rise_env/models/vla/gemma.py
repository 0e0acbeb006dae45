"""Gemma stacks of the VLM prefix and the action expert, and their joint per-layer attention.

Module tree (parameter names equal openpi's converted π0.5 checkpoint)::

    paligemma_with_expert.paligemma.model.vision_tower.vision_model.*          (siglip.py)
    paligemma_with_expert.paligemma.model.multi_modal_projector.linear.{weight,bias}
    paligemma_with_expert.paligemma.model.language_model.embed_tokens.weight
    paligemma_with_expert.paligemma.model.language_model.layers.{i}.input_layernorm.weight
    paligemma_with_expert.paligemma.model.language_model.layers.{i}.self_attn.{q,k,v,o}_proj.weight
    paligemma_with_expert.paligemma.model.language_model.layers.{i}.post_attention_layernorm.weight
    paligemma_with_expert.paligemma.model.language_model.layers.{i}.mlp.{gate,up,down}_proj.weight
    paligemma_with_expert.paligemma.model.language_model.norm.weight
    paligemma_with_expert.gemma_expert.model.layers.{i}.input_layernorm.dense.{weight,bias}
    paligemma_with_expert.gemma_expert.model.layers.{i}.self_attn.{q,k,v,o}_proj.weight
    paligemma_with_expert.gemma_expert.model.layers.{i}.post_attention_layernorm.dense.{weight,bias}
    paligemma_with_expert.gemma_expert.model.layers.{i}.mlp.{gate,up,down}_proj.weight
    paligemma_with_expert.gemma_expert.model.norm.dense.{weight,bias}

Both stacks share depth, heads, KV heads and head size; at every layer their queries, keys and
values are concatenated along the sequence and attended jointly (one RoPE, one mask), then each
stack applies its own output projection, norms and MLP to its own tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from rise_env.models.vla.config import GemmaConfig, VisionConfig
from rise_env.models.vla.layers import (
    AdaRMSNorm,
    GemmaMLP,
    RMSNorm,
    apply_rope,
    attention,
    gated_residual,
    rope_cos_sin,
)
from rise_env.models.vla.siglip import SiglipVisionModel


class GemmaAttentionProj(nn.Module):
    """The four projections of one Gemma attention block (no biases)."""

    def __init__(self, cfg: GemmaConfig) -> None:
        super().__init__()
        self.head_dim = cfg.head_dim
        self.q_proj = nn.Linear(cfg.width, cfg.num_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.width, cfg.num_kv_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.width, cfg.num_kv_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.num_heads * cfg.head_dim, cfg.width, bias=False)

    def qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x: (B, L, width) → q (B, Hq, L, d), k and v (B, Hkv, L, d)."""
        b, n, _ = x.shape
        return tuple(
            p(x).view(b, n, -1, self.head_dim).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj)
        )


class GemmaDecoderLayer(nn.Module):
    """Pre-norm decoder layer; ``cond_dim`` switches its norms to adaRMS (action expert)."""

    def __init__(self, cfg: GemmaConfig, cond_dim: int | None = None) -> None:
        super().__init__()
        norm = (
            (lambda: AdaRMSNorm(cfg.width, cond_dim, cfg.rms_norm_eps))
            if cond_dim
            else (lambda: RMSNorm(cfg.width, cfg.rms_norm_eps))
        )
        self.input_layernorm = norm()
        self.self_attn = GemmaAttentionProj(cfg)
        self.post_attention_layernorm = norm()
        self.mlp = GemmaMLP(cfg.width, cfg.mlp_dim)


class GemmaModel(nn.Module):
    """A Gemma stack: optional token embedding, decoder layers, final norm."""

    def __init__(self, cfg: GemmaConfig, vocab_size: int | None, cond_dim: int | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        if vocab_size is not None:
            self.embed_tokens = nn.Embedding(vocab_size, cfg.width)
        self.layers = nn.ModuleList(GemmaDecoderLayer(cfg, cond_dim) for _ in range(cfg.depth))
        self.norm = (
            AdaRMSNorm(cfg.width, cond_dim, cfg.rms_norm_eps) if cond_dim else RMSNorm(cfg.width, cfg.rms_norm_eps)
        )


class MultiModalProjector(nn.Module):
    """``multi_modal_projector.linear``: vision width → prefix width."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)


class PaliGemmaModel(nn.Module):
    def __init__(self, vision: VisionConfig, vlm: GemmaConfig, vocab_size: int) -> None:
        super().__init__()
        self.vision_tower = SiglipVisionModel(vision)
        self.multi_modal_projector = MultiModalProjector(vision.width, vlm.width)
        self.language_model = GemmaModel(vlm, vocab_size)


class PaliGemma(nn.Module):
    """Holder so names read ``paligemma.model.*`` (the tied ``lm_head`` is not materialised)."""

    def __init__(self, vision: VisionConfig, vlm: GemmaConfig, vocab_size: int) -> None:
        super().__init__()
        self.model = PaliGemmaModel(vision, vlm, vocab_size)


class GemmaExpert(nn.Module):
    """Holder so names read ``gemma_expert.model.*`` (no embeddings, no lm_head)."""

    def __init__(self, expert: GemmaConfig) -> None:
        super().__init__()
        self.model = GemmaModel(expert, vocab_size=None, cond_dim=expert.width)


@dataclass
class KVCache:
    """Per-layer prefix keys/values after RoPE: lists of (B, Hkv, Lp, d)."""

    keys: list[Tensor]
    values: list[Tensor]

    def repeat(self, n: int) -> KVCache:
        """Batch-repeat (B → n·B, blockwise) for guidance or multiple samples."""
        return KVCache([k.repeat(n, 1, 1, 1) for k in self.keys], [v.repeat(n, 1, 1, 1) for v in self.values])


class PaliGemmaWithExpert(nn.Module):
    """The two stacks and their joint attention (``paligemma_with_expert``)."""

    def __init__(self, vision: VisionConfig, vlm: GemmaConfig, expert: GemmaConfig, vocab_size: int) -> None:
        super().__init__()
        self.paligemma = PaliGemma(vision, vlm, vocab_size)
        self.gemma_expert = GemmaExpert(expert)
        self.gradient_checkpointing = False

    @property
    def language_model(self) -> GemmaModel:
        return self.paligemma.model.language_model

    def forward(
        self,
        prefix: Tensor | None,
        suffix: Tensor | None,
        positions: Tensor,
        allowed: Tensor,
        cond: Tensor | None = None,
        cache: KVCache | None = None,
        return_cache: bool = False,
    ) -> tuple[Tensor | None, Tensor | None, KVCache | None]:
        """Run both stacks layer by layer with joint attention.

        prefix: (B, Lp, Wv) or None; suffix: (B, Ls, We) or None; positions: (B, Lp + Ls);
        allowed: (B, Lp + Ls, Lc + Lp + Ls) bool where Lc is the cached length; cond: (B, We)
        adaRMS condition (needed with a suffix). Returns final-normed (prefix_out, suffix_out)
        and, if ``return_cache``, the keys/values of this call (for a prefix-only call: the cache).
        """
        stacks = [self.language_model, self.gemma_expert.model]
        xs: list[Tensor | None] = [prefix, suffix]
        present = [i for i, x in enumerate(xs) if x is not None]
        if not present:
            raise ValueError("forward needs a prefix, a suffix or both")
        if suffix is not None and cond is None:
            raise ValueError("the action-expert suffix needs the adaRMS condition `cond` (B, expert width)")
        cfg = self.language_model.cfg
        cos, sin = rope_cos_sin(positions, cfg.head_dim, cfg.rope_theta)
        new_cache = KVCache([], []) if return_cache else None
        for li in range(cfg.depth):
            layers = [stacks[i].layers[li] for i in present]
            inputs = [xs[i] for i in present]
            conds = [None if i == 0 else cond for i in present]
            past = None if cache is None else (cache.keys[li], cache.values[li])
            if self.gradient_checkpointing and self.training:
                outs, k, v = checkpoint(
                    _joint_layer, layers, inputs, conds, cos, sin, allowed, past, use_reentrant=False
                )
            else:
                outs, k, v = _joint_layer(layers, inputs, conds, cos, sin, allowed, past)
            if new_cache is not None:
                new_cache.keys.append(k)
                new_cache.values.append(v)
            for i, out in zip(present, outs, strict=True):
                xs[i] = out
        results: list[Tensor | None] = [None, None]
        for i in present:
            results[i] = stacks[i].norm(xs[i], cond if i == 1 else None)[0]
        return results[0], results[1], new_cache


def _joint_layer(
    layers: list[GemmaDecoderLayer],
    inputs: list[Tensor],
    conds: list[Tensor | None],
    cos: Tensor,
    sin: Tensor,
    allowed: Tensor,
    past: tuple[Tensor, Tensor] | None,
) -> tuple[list[Tensor], Tensor, Tensor]:
    """One layer over the concatenated streams; returns new streams and this call's (k, v)."""
    qs, ks, vs, gates = [], [], [], []
    for layer, x, c in zip(layers, inputs, conds, strict=True):
        h, gate = layer.input_layernorm(x, c)
        q, k, v = layer.self_attn.qkv(h)
        qs.append(q)
        ks.append(k)
        vs.append(v)
        gates.append(gate)
    q = apply_rope(torch.cat(qs, dim=2), cos, sin)
    k = apply_rope(torch.cat(ks, dim=2), cos, sin)
    v = torch.cat(vs, dim=2)
    k_all, v_all = (k, v) if past is None else (torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2))
    att = attention(q, k_all, v_all, allowed)
    outs, start = [], 0
    for layer, x, c, gate in zip(layers, inputs, conds, gates, strict=True):
        end = start + x.shape[1]
        x = gated_residual(x, layer.self_attn.o_proj(att[:, start:end]), gate)
        h, gate2 = layer.post_attention_layernorm(x, c)
        outs.append(gated_residual(x, layer.mlp(h), gate2))
        start = end
    return outs, k, v

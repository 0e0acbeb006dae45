"""The π0.5-style network: SigLIP + Gemma prefix, adaRMS action expert, flow-matching heads.

Top-level parameter names (equal to openpi's converted PyTorch checkpoint, and to LeRobot ``pi05``
keys without their ``model.`` prefix)::

    paligemma_with_expert.*        (gemma.py / siglip.py)
    action_in_proj.{weight,bias}   Linear(action_dim, expert width)
    action_out_proj.{weight,bias}  Linear(expert width, action_dim)
    time_mlp_in.{weight,bias}      Linear(expert width, expert width)
    time_mlp_out.{weight,bias}     Linear(expert width, expert width)
    state_proj.{weight,bias}       Linear(action_dim, expert width), only with continuous_state_input (π0)

The network predicts the flow velocity ``v(x_t, t | prefix)``; it holds no integrator (see
``flow.py``). Time convention: ``t = 1`` is noise, ``x_t = t·ε + (1 − t)·a``, target ``ε − a``.

With ``cfg.continuous_state_input`` the suffix is ``[state token; H action tokens]`` as in π0: the
state token is its own block (it sees the prefix, not the actions) and the actions see it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rise_env.models.vla.config import VLAConfig
from rise_env.models.vla.gemma import KVCache, PaliGemmaWithExpert
from rise_env.models.vla.masks import cached_suffix_mask, make_att_2d_masks, positions_from_pad, suffix_ar_mask


@dataclass
class PrefixCache:
    """Encoded prefix: per-layer K/V, its padding mask (B, Lp) and final hidden states (B, Lp, Wv);
    ``state`` (B, state_dim) is kept for the continuous state token of the suffix (else None)."""

    kv: KVCache
    pad_mask: Tensor
    hidden: Tensor
    state: Tensor | None = None

    def repeat(self, n: int) -> PrefixCache:
        """Blockwise batch repeat B → n·B."""
        state = None if self.state is None else self.state.repeat(n, 1)
        return PrefixCache(self.kv.repeat(n), self.pad_mask.repeat(n, 1), self.hidden.repeat(n, 1, 1), state)


def sincos_time_embedding(t: Tensor, dim: int, min_period: float, max_period: float) -> Tensor:
    """t: (B,) → (B, dim) = [sin(2π t / p), cos(2π t / p)] over geometric periods (computed in float64)."""
    if dim % 2:
        raise ValueError(f"time embedding width must be even, got {dim}")
    if t.ndim != 1:
        raise ValueError(f"time must have shape (B,), got {tuple(t.shape)}")
    dtype = torch.float64 if t.device.type in ("cpu", "cuda") else torch.float32
    fraction = torch.linspace(0.0, 1.0, dim // 2, dtype=dtype, device=t.device)
    period = min_period * (max_period / min_period) ** fraction
    angle = (2 * math.pi / period)[None, :] * t.to(dtype)[:, None]
    return torch.cat([angle.sin(), angle.cos()], dim=1).float()


class Pi05VLA(nn.Module):
    """π0.5 network. Build with ``Pi05VLA(get_vla_config("cpu"))``; on ``torch.device("meta")``
    for parameter counting of the full-size model."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        width = cfg.expert.width
        self.paligemma_with_expert = PaliGemmaWithExpert(cfg.vision, cfg.vlm, cfg.expert, cfg.vocab_size)
        self.action_in_proj = nn.Linear(cfg.action_dim, width)
        self.action_out_proj = nn.Linear(width, cfg.action_dim)
        self.time_mlp_in = nn.Linear(width, width)
        self.time_mlp_out = nn.Linear(width, width)
        if cfg.continuous_state_input:
            self.state_proj = nn.Linear(cfg.action_dim, width)
        self._init_weights()

    def _init_weights(self) -> None:
        """Small-normal init for training from scratch; adaRMS dense stays zero (openpi)."""
        if any(p.is_meta for p in self.parameters()):
            return
        for name, module in self.named_modules():
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            elif isinstance(module, nn.Linear) and not name.endswith(".dense"):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        """Total number of parameters (works on the meta device)."""
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ prefix
    def embed_images(self, images: Tensor) -> Tensor:
        """images: (B, V, 3, H, W) in [-1, 1] → image tokens (B, V·N, vlm width)."""
        if images.ndim != 5 or images.shape[1] != len(self.cfg.camera_names):
            raise ValueError(
                f"images must be (B, {len(self.cfg.camera_names)}, 3, H, W) for views {self.cfg.camera_names}; "
                f"got {tuple(images.shape)}"
            )
        b, nv = images.shape[:2]
        pali = self.paligemma_with_expert.paligemma.model
        tokens = pali.multi_modal_projector(pali.vision_tower(images.flatten(0, 1)))
        return tokens.reshape(b, nv * tokens.shape[1], tokens.shape[2])

    def embed_prefix(
        self, image_tokens: Tensor, image_masks: Tensor, tokens: Tensor, token_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Concatenate image tokens and prompt embeddings (× sqrt(width)).

        image_tokens: (B, V·N, W) from ``embed_images``; image_masks: (B, V) bool (a masked view
        keeps its tokens but they are padding); tokens / token_mask: (B, T) → (embs, pad, ar)
        with embs (B, V·N + T, W) and ``ar`` all zero (bidirectional prefix).
        """
        b = image_tokens.shape[0]
        nv = image_masks.shape[1]
        per_view = image_tokens.shape[1] // nv
        lang = self.paligemma_with_expert.language_model.embed_tokens(tokens)
        lang = lang * math.sqrt(lang.shape[-1])
        embs = torch.cat([image_tokens, lang.to(image_tokens.dtype)], dim=1)
        pad = torch.cat([image_masks.bool().repeat_interleave(per_view, dim=1), token_mask.bool()], dim=1)
        ar = torch.zeros(b, embs.shape[1], dtype=torch.long, device=embs.device)
        return embs, pad, ar

    def encode_prefix(
        self,
        images: Tensor,
        image_masks: Tensor,
        tokens: Tensor,
        token_mask: Tensor,
        image_tokens: Tensor | None = None,
        state: Tensor | None = None,
    ) -> PrefixCache:
        """Run the prefix once and keep its K/V for the denoising steps.

        images: (B, V, 3, H, W) in [-1, 1]; image_masks: (B, V) bool; tokens / token_mask: (B, T).
        ``image_tokens`` (B, V·N, W) may be given to reuse a vision pass; ``state`` (B, state_dim),
        normalised, is needed (and kept) only with ``cfg.continuous_state_input``.
        """
        if image_tokens is None:
            image_tokens = self.embed_images(images)
        embs, pad, ar = self.embed_prefix(image_tokens, image_masks, tokens, token_mask)
        allowed = make_att_2d_masks(pad, ar)
        hidden, _, kv = self.paligemma_with_expert(embs, None, positions_from_pad(pad), allowed, return_cache=True)
        return PrefixCache(kv=kv, pad_mask=pad, hidden=hidden, state=state)

    # ------------------------------------------------------------------ suffix
    def embed_state(self, state: Tensor | None, batch: int) -> Tensor:
        """Continuous state token: state (B, state_dim) → (B, 1, We) via ``state_proj`` (π0)."""
        if state is None or state.shape != (batch, self.cfg.state_dim):
            got = None if state is None else tuple(state.shape)
            raise ValueError(
                f"continuous_state_input needs the normalised state (B={batch}, {self.cfg.state_dim}); got {got}"
            )
        padded = F.pad(state.to(self.state_proj.weight), (0, self.cfg.action_dim - self.cfg.state_dim))
        return self.state_proj(padded)[:, None]

    def embed_suffix(
        self, x_t: Tensor, t: Tensor, state: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x_t: (B, H, action_dim), t: (B,) → (embs (B, L, We), pad (B, L), ar (B, L), cond (B, We)).

        L = H, or H + 1 with the leading continuous state token (``state`` (B, state_dim)).
        """
        if x_t.ndim != 3 or x_t.shape[1:] != (self.cfg.action_horizon, self.cfg.action_dim):
            raise ValueError(
                f"x_t must be (B, {self.cfg.action_horizon}, {self.cfg.action_dim}); got {tuple(x_t.shape)}"
            )
        width = self.cfg.expert.width
        temb = sincos_time_embedding(t, width, self.cfg.time_min_period, self.cfg.time_max_period).to(x_t.dtype)
        cond = F.silu(self.time_mlp_out(F.silu(self.time_mlp_in(temb))))
        embs = self.action_in_proj(x_t)
        b, h = x_t.shape[:2]
        ar = suffix_ar_mask(b, h, x_t.device)
        if self.cfg.continuous_state_input:
            embs = torch.cat([self.embed_state(state, b).to(embs.dtype), embs], dim=1)
            ar = torch.cat([torch.ones(b, 1, dtype=ar.dtype, device=ar.device), ar], dim=1)
        pad = torch.ones(b, embs.shape[1], dtype=torch.bool, device=x_t.device)
        return embs, pad, ar, cond

    def velocity(self, prefix: PrefixCache, x_t: Tensor, t: Tensor) -> Tensor:
        """Velocity from a cached prefix. x_t: (B, H, action_dim), t: (B,) → (B, H, action_dim)."""
        embs, pad, ar, cond = self.embed_suffix(x_t, t, prefix.state)
        allowed = cached_suffix_mask(prefix.pad_mask, pad, ar)
        offset = prefix.pad_mask.long().sum(-1)
        _, out, _ = self.paligemma_with_expert(
            None, embs, positions_from_pad(pad, offset), allowed, cond=cond, cache=prefix.kv
        )
        return self.action_out_proj(out[:, -self.cfg.action_horizon :])

    def forward(
        self,
        images: Tensor,
        image_masks: Tensor,
        tokens: Tensor,
        token_mask: Tensor,
        x_t: Tensor,
        t: Tensor,
        state: Tensor | None = None,
    ) -> Tensor:
        """Uncached joint pass over [prefix; suffix] (training). Returns velocity (B, H, action_dim)."""
        p_embs, p_pad, p_ar = self.embed_prefix(self.embed_images(images), image_masks, tokens, token_mask)
        s_embs, s_pad, s_ar, cond = self.embed_suffix(x_t, t, state)
        pad = torch.cat([p_pad, s_pad], dim=1)
        allowed = make_att_2d_masks(pad, torch.cat([p_ar, s_ar], dim=1))
        _, out, _ = self.paligemma_with_expert(p_embs, s_embs, positions_from_pad(pad), allowed, cond=cond)
        return self.action_out_proj(out[:, -self.cfg.action_horizon :])

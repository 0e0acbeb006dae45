"""Action-conditioned multi-view LTX-Video transformer.

A subclass of diffusers' :class:`LTXVideoTransformer3DModel` that keeps every LTX parameter name
(a diffusers/GE checkpoint loads with only the new modules missing) and adds:

* **action encoder** (``action_encoder``, ``action_pos``, ``state_encoder``): the normalised,
  subsampled action chunk becomes one token per world-model step (25), the state one token. With
  ``action_in_dim = 2 * action_dim`` each step's features also hold its offset from the state. They
  are appended to the cross-attention context, after the task/text tokens. Why the context and not
  the self-attention sequence: the video token grid and its RoPE stay exactly LTX's (pretrained
  weights see the sequence they were trained on), the cost grows by 26 keys instead of 26 queries
  per block, and a learned per-step position lets each video token pick the action at its time.
  In addition the action tokens of each future latent frame's time window are averaged and added
  into that frame's AdaLN modulation (``action_ada``, zero-initialised; IRASim's frame-level AdaLN),
  a direct path that makes small models controllable after few updates.
* **null action** (``action_null``, optional): a learned embedding that replaces the action tokens
  of samples trained without their actions, for classifier-free action guidance when sampling.
* **view embedding** (``view_embed``, ``view_ada``): added into the AdaLN modulation (GE).
  ``view_ada`` starts at zero so a loaded LTX model is unchanged at step 0.
* **cross-view attention** in blocks ``idx % cross_view_every == 0`` (GE: every third block).
* **per-token timesteps**: one t per latent frame and sample (memory frames t = 0).
* **task conditioning**: a learned table of ``task_tokens`` caption-space embeddings per task id,
  or cached text embeddings (``text_embeds``), through LTX's own ``caption_projection``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import LTXVideoTransformer3DModel
from diffusers.configuration_utils import register_to_config
from torch import nn

# Keys of the modules that do not exist in a diffusers LTX checkpoint.
NEW_MODULE_PREFIXES = (
    "action_encoder.",
    "action_pos",
    "action_ada.",
    "action_null",
    "state_encoder.",
    "view_embed",
    "view_ada.",
    "task_embed.",
)


class ActionConditionedLTXTransformer(LTXVideoTransformer3DModel):
    """LTX-Video DiT with action, state, view and task conditioning.

    Example:
        >>> net = ActionConditionedLTXTransformer(in_channels=8, out_channels=8, num_attention_heads=2,
        ...     attention_head_dim=16, cross_attention_dim=32, num_layers=2, caption_channels=16)
        >>> v = net(torch.zeros(1, 3, 8, 2, 4, 4), torch.zeros(1, 2), torch.zeros(1, 5, 14),
        ...     torch.zeros(1, 14), task_index=torch.zeros(1, dtype=torch.long))
        >>> tuple(v.shape)
        (1, 3, 8, 2, 4, 4)
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 128,
        out_channels: int = 128,
        patch_size: int = 1,
        patch_size_t: int = 1,
        num_attention_heads: int = 32,
        attention_head_dim: int = 64,
        cross_attention_dim: int = 2048,
        num_layers: int = 28,
        activation_fn: str = "gelu-approximate",
        qk_norm: str = "rms_norm_across_heads",
        norm_elementwise_affine: bool = False,
        norm_eps: float = 1e-6,
        caption_channels: int = 4096,
        attention_bias: bool = True,
        attention_out_bias: bool = True,
        action_dim: int = 14,
        action_in_dim: int | None = None,
        action_hidden: int = 2048,
        max_action_tokens: int = 64,
        num_tasks: int = 16,
        task_tokens: int = 8,
        max_views: int = 3,
        cross_view_every: int = 3,
        cross_view_mode: str = "joint",
        null_action: bool = False,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            patch_size=patch_size,
            patch_size_t=patch_size_t,
            num_attention_heads=num_attention_heads,
            attention_head_dim=attention_head_dim,
            cross_attention_dim=cross_attention_dim,
            num_layers=num_layers,
            activation_fn=activation_fn,
            qk_norm=qk_norm,
            norm_elementwise_affine=norm_elementwise_affine,
            norm_eps=norm_eps,
            caption_channels=caption_channels,
            attention_bias=attention_bias,
            attention_out_bias=attention_out_bias,
        )
        dim = num_attention_heads * attention_head_dim
        if cross_attention_dim != dim:
            raise ValueError(f"cross_attention_dim must equal heads*head_dim={dim}, got {cross_attention_dim}")
        if cross_view_mode not in ("joint", "same_frame"):
            raise ValueError(f"cross_view_mode must be 'joint' or 'same_frame', got {cross_view_mode!r}")
        self.action_encoder = nn.Sequential(
            nn.Linear(action_in_dim or action_dim, action_hidden), nn.SiLU(), nn.Linear(action_hidden, dim)
        )
        self.action_pos = nn.Parameter(torch.randn(max_action_tokens, dim) * 0.02)
        self.action_null = nn.Parameter(torch.randn(dim) * 0.02) if null_action else None
        self.action_ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.action_ada[1].weight)
        nn.init.zeros_(self.action_ada[1].bias)
        self.state_encoder = nn.Sequential(
            nn.Linear(action_dim, action_hidden), nn.SiLU(), nn.Linear(action_hidden, dim)
        )
        self.view_embed = nn.Parameter(torch.randn(max_views, dim) * 0.02)
        self.view_ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.view_ada[1].weight)
        nn.init.zeros_(self.view_ada[1].bias)
        self.task_embed = nn.Embedding(max(num_tasks, 1), task_tokens * caption_channels)
        nn.init.normal_(self.task_embed.weight, std=0.02)

    # ------------------------------------------------------------------ conditioning
    def encode_context(
        self,
        actions: torch.Tensor,
        state: torch.Tensor,
        task_index: torch.Tensor | None = None,
        text_embeds: torch.Tensor | None = None,
        action_drop: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-attention context ``(B, L_text + K + 1, D)`` and the action tokens ``(B, K, D)``.

        Args:
            actions: ``(B, K, A_in)`` normalised to [-1, 1], one per world-model step (``A_in`` =
                ``action_in_dim``: the action, optionally followed by its offset from the state).
            state: ``(B, A)`` normalised to [-1, 1].
            task_index: ``(B,)`` long task ids (used when ``text_embeds`` is None).
            text_embeds: ``(B, L, caption_channels)`` cached text embeddings.
            action_drop: ``(B,)`` bool, samples whose action tokens become the learned null action.
        """
        b, k, _ = actions.shape
        if k > self.action_pos.shape[0]:
            raise ValueError(f"{k} action tokens exceed max_action_tokens={self.action_pos.shape[0]}")
        if text_embeds is None:
            if task_index is None:
                task_index = torch.zeros(b, dtype=torch.long, device=actions.device)
            if int(task_index.max()) >= self.task_embed.num_embeddings or int(task_index.min()) < 0:
                raise ValueError(
                    f"task_index must be in [0, {self.task_embed.num_embeddings}), got {task_index.tolist()}"
                )
            text_embeds = self.task_embed(task_index).view(b, self.config.task_tokens, self.config.caption_channels)
        text = self.caption_projection(text_embeds.to(self.proj_in.weight.dtype))
        act = self.action_encoder(actions)
        if action_drop is not None:
            if self.action_null is None:
                raise ValueError("this transformer has no null action (built with null_action=False)")
            act = torch.where(action_drop.view(b, 1, 1), self.action_null.to(act.dtype), act)
        act = act + self.action_pos[:k]
        st = self.state_encoder(state).unsqueeze(1)
        return torch.cat([text, act, st], dim=1), act

    # ------------------------------------------------------------------ tokens
    def _pack(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, F, h, w) -> (N, F * h/p * w/p, C * p * p) in LTX's packing order."""
        n, c, f, h, w = x.shape
        p = self.config.patch_size
        x = x.reshape(n, c, f, h // p, p, w // p, p).permute(0, 2, 3, 5, 1, 4, 6)
        return x.reshape(n, f * (h // p) * (w // p), c * p * p)

    def _unpack(self, x: torch.Tensor, f: int, h: int, w: int) -> torch.Tensor:
        n = x.shape[0]
        p = self.config.patch_size
        x = x.reshape(n, f, h // p, w // p, -1, p, p).permute(0, 4, 1, 2, 5, 3, 6)
        return x.reshape(n, -1, f, h, w)

    def _block(
        self,
        block: nn.Module,
        x: torch.Tensor,
        ctx: torch.Tensor,
        temb: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        views: int,
        frames: int,
        cross_view: bool,
    ) -> torch.Tensor:
        """One LTX block (same math as diffusers') with optional cross-view self-attention."""
        nv, length, dim = x.shape
        ada = block.scale_shift_table[None, None] + temb.reshape(nv, temb.shape[1], 6, dim)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = ada.unbind(dim=2)
        h = block.norm1(x) * (1 + scale_msa) + shift_msa
        if cross_view:
            b = nv // views
            if self.config.cross_view_mode == "joint":
                fold = lambda t: t.reshape(b, views * length, t.shape[-1])  # noqa: E731
                unfold = lambda t: t.reshape(nv, length, t.shape[-1])  # noqa: E731
            else:  # tokens of the same latent frame across views
                s = length // frames

                def fold(t: torch.Tensor) -> torch.Tensor:
                    t = t.reshape(b, views, frames, s, t.shape[-1]).transpose(1, 2)
                    return t.reshape(b * frames, views * s, t.shape[-1])

                def unfold(t: torch.Tensor) -> torch.Tensor:
                    t = t.reshape(b, frames, views, s, t.shape[-1]).transpose(1, 2)
                    return t.reshape(nv, length, t.shape[-1])

            attn = block.attn1(hidden_states=fold(h), image_rotary_emb=(fold(rope[0]), fold(rope[1])))
            attn = unfold(attn)
        else:
            attn = block.attn1(hidden_states=h, image_rotary_emb=rope)
        x = x + attn * gate_msa
        x = x + block.attn2(x, encoder_hidden_states=ctx)
        h = block.norm2(x) * (1 + scale_mlp) + shift_mlp
        return x + block.ff(h) * gate_mlp

    # ------------------------------------------------------------------ forward
    def forward(  # type: ignore[override]
        self,
        latents: torch.Tensor,
        timesteps: torch.Tensor,
        actions: torch.Tensor,
        state: torch.Tensor,
        task_index: torch.Tensor | None = None,
        text_embeds: torch.Tensor | None = None,
        rope_interpolation_scale: tuple[float, float, float] | None = None,
        action_frames: torch.Tensor | None = None,
        action_drop: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the flow velocity of every latent.

        Args:
            latents: ``(B, V, C, F, h, w)`` normalised latents (memory frames first).
            timesteps: ``(B, F)`` flow time in [0, 1] per latent frame (0 = clean), or ``(B,)``.
            actions: ``(B, K, A)`` in [-1, 1]; state ``(B, A)`` in [-1, 1].
            task_index / text_embeds: task conditioning, see :meth:`encode_context`.
            rope_interpolation_scale: LTX RoPE scale (temporal, spatial, spatial).
            action_frames: ``(K,)`` long, the latent frame (index into F) each action token belongs
                to; their mean goes into that frame's AdaLN modulation. None skips this path.
            action_drop: ``(B,)`` bool, samples conditioned on the null action instead of theirs.

        Returns:
            ``(B, V, C, F, h, w)`` velocity (noise - data).
        """
        if latents.ndim != 6:
            raise ValueError(f"latents must be (B, V, C, F, h, w), got shape {tuple(latents.shape)}")
        b, v, c, f, h, w = latents.shape
        if v > self.view_embed.shape[0]:
            raise ValueError(f"{v} views exceed max_views={self.view_embed.shape[0]}")
        if timesteps.ndim == 1:
            timesteps = timesteps[:, None].expand(b, f)
        if timesteps.shape != (b, f):
            raise ValueError(f"timesteps must be (B, F)=({b}, {f}), got {tuple(timesteps.shape)}")
        p = self.config.patch_size
        hp, wp = h // p, w // p
        dtype = self.proj_in.weight.dtype
        x = self.proj_in(self._pack(latents.reshape(b * v, c, f, h, w).to(dtype)))
        dim = x.shape[-1]
        rope = self.rope(x, f, hp, wp, rope_interpolation_scale)

        # timestep embedding per (sample, latent frame), broadcast over the frame's tokens
        t = (timesteps.to(torch.float32) * 1000.0).reshape(-1)
        temb, emb_t = self.time_embed(t, batch_size=b, hidden_dtype=dtype)
        ctx, act = self.encode_context(actions.to(dtype), state.to(dtype), task_index, text_embeds, action_drop)
        temb = temb.view(b, f, 6 * dim)
        if action_frames is not None:
            if action_frames.shape != (act.shape[1],) or int(action_frames.max()) >= f:
                raise ValueError(f"action_frames must be ({act.shape[1]},) indices < {f}, got {action_frames.tolist()}")
            onehot = F.one_hot(action_frames.to(act.device), f).to(dtype)  # (K, F)
            count = onehot.sum(0)
            pooled = torch.einsum("kf,bkd->bfd", onehot, act) / count.clamp_min(1).view(1, f, 1)
            temb = temb + self.action_ada(pooled) * (count > 0).to(dtype).view(1, f, 1)
        temb = temb.view(b, 1, f, 6 * dim) + self.view_ada(self.view_embed[:v]).view(1, v, 1, 6 * dim)
        emb_t = emb_t.view(b, 1, f, dim) + self.view_embed[:v].view(1, v, 1, dim)
        temb = temb.reshape(b * v, f, 1, 6 * dim).expand(-1, -1, hp * wp, -1).reshape(b * v, -1, 6 * dim)
        emb_t = emb_t.reshape(b * v, f, 1, dim).expand(-1, -1, hp * wp, -1).reshape(b * v, -1, dim)

        ctx = ctx.repeat_interleave(v, dim=0)
        every = self.config.cross_view_every
        for idx, block in enumerate(self.transformer_blocks):
            cross = every > 0 and idx % every == 0 and v > 1
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                x = self._gradient_checkpointing_func(self._block, block, x, ctx, temb, rope, v, f, cross)
            else:
                x = self._block(block, x, ctx, temb, rope, v, f, cross)

        shift, scale = (self.scale_shift_table[None, None] + emb_t[:, :, None]).unbind(dim=2)
        x = self.norm_out(x) * (1 + scale) + shift
        out = self._unpack(self.proj_out(x), f, h, w)
        return out.reshape(b, v, -1, f, h, w)


def transformer_from_config(
    cfg_t: object,
    latent_channels: int,
    action_dim: int,
    action_in_dim: int | None = None,
    null_action: bool = False,
) -> ActionConditionedLTXTransformer:
    """Build the transformer from a :class:`~rise_env.models.dynamics.config.TransformerConfig`.

    ``action_in_dim`` is the width of one action token's features (default ``action_dim``)."""
    p = cfg_t.patch_size
    return ActionConditionedLTXTransformer(
        in_channels=latent_channels * p * p,
        out_channels=latent_channels * p * p,
        patch_size=p,
        num_attention_heads=cfg_t.num_attention_heads,
        attention_head_dim=cfg_t.attention_head_dim,
        cross_attention_dim=cfg_t.inner_dim,
        num_layers=cfg_t.num_layers,
        caption_channels=cfg_t.caption_channels,
        action_dim=action_dim,
        action_in_dim=action_in_dim,
        action_hidden=cfg_t.action_hidden,
        max_action_tokens=cfg_t.max_action_tokens,
        num_tasks=cfg_t.num_tasks,
        task_tokens=cfg_t.task_tokens,
        max_views=cfg_t.max_views,
        cross_view_every=cfg_t.cross_view_every,
        cross_view_mode=cfg_t.cross_view_mode,
        null_action=null_action,
    )


def velocity_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-sample MSE over masked latent frames. pred/target ``(B, V, C, F, h, w)``, mask ``(B, F)``;
    ``weight`` (broadcastable to pred, e.g. :func:`motion_weights`) scales each latent's squared error."""
    err = F.mse_loss(pred.float(), target.float(), reduction="none")
    if weight is not None:
        err = err * weight.float()
    err = err.mean(dim=(1, 2, 4, 5))
    return (err * mask).sum(1) / mask.sum(1).clamp_min(1)


def motion_weights(future: torch.Tensor, strength: float) -> torch.Tensor:
    """Loss weights ``(B, V, 1, 1, h, w)``, of mean 1 per sample, that favour the places that move.

    A place's motion is how much its latent changes over the chunk: the mean, over channels and the
    ``F`` latent frames, of the absolute deviation from its mean over those frames, divided by the
    sample's mean motion (so 1 on average). Its weight, the same in every frame, is
    ``1 + strength * motion`` divided by the sample's mean weight: all ones at ``strength`` 0 or for
    a still chunk. ``future``: clean future latents ``(B, V, C, F, h, w)``.
    """
    if strength < 0:
        raise ValueError(f"motion weight strength must be >= 0, got {strength}")
    future = future.float()
    motion = (future - future.mean(dim=3, keepdim=True)).abs().mean(dim=(2, 3), keepdim=True)
    # the floor keeps a still chunk's rounding noise (~1e-7 of its values) from being blown up to weights
    floor = 1e-4 * future.abs().mean(dim=(1, 2, 3, 4, 5), keepdim=True) + 1e-12
    motion = motion / (motion.mean(dim=(1, 2, 3, 4, 5), keepdim=True) + floor)
    weight = 1.0 + strength * motion
    return weight / weight.mean(dim=(1, 2, 3, 4, 5), keepdim=True)

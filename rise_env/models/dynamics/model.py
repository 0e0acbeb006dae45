"""DynamicsModel: memory frames + action chunk -> imagined multi-view future, by latent flow matching."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from rise_env.models.dynamics.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    LoadReport,
    load_checked,
    read_state_dict,
    write_json,
    write_safetensors,
)
from rise_env.models.dynamics.config import DynamicsConfig, get_preset
from rise_env.models.dynamics.sampler import (
    EulerFlowSampler,
    check_guidance_interval,
    guidance_at,
    logit_normal_t,
    per_sample_noise,
)
from rise_env.models.dynamics.transformer import (
    NEW_MODULE_PREFIXES,
    motion_weights,
    transformer_from_config,
    velocity_loss,
)
from rise_env.models.dynamics.vae import LatentCodec, build_vae


class DynamicsModel(nn.Module):
    """Controllable multi-view video world model (LTX VAE + action-conditioned LTX DiT).

    Example:
        >>> model = DynamicsModel.from_preset("tiny")
        >>> hist = torch.zeros(1, 4, 3, 32, 32, 3, dtype=torch.uint8)
        >>> out = model.imagine(hist, torch.zeros(1, 14), torch.zeros(1, 10, 14), steps=2, seeds=[0])
        >>> tuple(out.shape), out.dtype
        ((1, 5, 3, 32, 32, 3), torch.uint8)
    """

    def __init__(self, config: DynamicsConfig) -> None:
        super().__init__()
        self.config = config
        self.codec = LatentCodec(build_vae(config.vae))
        a = config.action_dim
        self.transformer = transformer_from_config(
            config.transformer, config.latent_channels, a, 2 * a if config.action_delta else a, config.null_action
        )
        self.register_buffer("action_low", torch.tensor(config.action_low, dtype=torch.float32), persistent=False)
        self.register_buffer("action_high", torch.tensor(config.action_high, dtype=torch.float32), persistent=False)

    @classmethod
    def from_preset(cls, name: str = "cpu", **overrides: object) -> DynamicsModel:
        """A randomly initialised model of a named preset (``cpu``, ``ge``, ``ltx``, ``tiny``)."""
        return cls(get_preset(name, **overrides))

    @property
    def device(self) -> torch.device:
        return self.transformer.proj_in.weight.device

    # ------------------------------------------------------------------ inputs
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Per-dimension min/max normalisation of actions or state to [-1, 1] (not clipped)."""
        return 2.0 * (x.float() - self.action_low) / (self.action_high - self.action_low) - 1.0

    def action_tokens(self, action_chunk: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, H, A)`` absolute chunk -> ``(B, H / stride, A)`` normalised world-model actions.

        Future frame k (k = 0..K-1) is the observation after control step ``stride * (k + 1)``, so
        its action token is ``chunk[:, stride * (k + 1) - 1]`` (50 -> 25 at stride 2). With
        ``config.action_delta`` the ``(B, A)`` absolute ``state`` is required and each token becomes
        ``[a, a - s]`` in normalised units, ``(B, H / stride, 2A)``.
        """
        c = self.config
        if action_chunk.ndim != 3 or action_chunk.shape[1:] != (c.action_horizon, c.action_dim):
            raise ValueError(
                f"action_chunk must be (B, {c.action_horizon}, {c.action_dim}), got {tuple(action_chunk.shape)}"
            )
        if not torch.isfinite(action_chunk).all():
            raise ValueError("action_chunk contains NaN or inf")
        acts = self.normalize(action_chunk[:, c.action_stride - 1 :: c.action_stride])
        if not c.action_delta:
            return acts
        if state is None:
            raise ValueError("this model conditions on actions relative to the state: pass the (B, A) state too")
        self._check_state(state, action_chunk.shape[0])
        return torch.cat([acts, acts - self.normalize(state.to(acts.device))[:, None]], dim=-1)

    def _check_frames(self, frames: torch.Tensor, count: int, name: str) -> None:
        c = self.config
        want = (count, c.views, c.height, c.width, 3)
        if frames.ndim != 6 or tuple(frames.shape[1:]) != want:
            raise ValueError(f"{name} must be (B, {', '.join(map(str, want))}) uint8, got {tuple(frames.shape)}")
        if frames.dtype != torch.uint8:
            raise ValueError(f"{name} must be uint8 in [0, 255], got dtype {frames.dtype}")

    def _check_state(self, state: torch.Tensor, batch: int) -> None:
        if state.shape != (batch, self.config.action_dim):
            raise ValueError(f"state must be ({batch}, {self.config.action_dim}), got {tuple(state.shape)}")

    def _rope_scale(self) -> tuple[float, float, float]:
        c = self.config
        return (c.temporal_ratio / c.rope_frame_rate, float(c.spatial_ratio), float(c.spatial_ratio))

    # ------------------------------------------------------------------ network
    def velocity(
        self,
        memory: torch.Tensor,
        future: torch.Tensor,
        t: torch.Tensor,
        actions: torch.Tensor,
        state: torch.Tensor,
        task_index: torch.Tensor | None = None,
        text_embeds: torch.Tensor | None = None,
        memory_t: torch.Tensor | float = 0.0,
        action_drop: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity of the future latents. memory ``(B, V, C, M, h, w)``, future ``(B, V, C, F, h, w)``,
        t ``(B,)`` future time, actions ``(B, K, A_in)`` (:meth:`action_tokens`) and state ``(B, A)``
        normalised; ``action_drop`` ``(B,)`` bool puts the null action in place of a sample's actions.
        Returns future-shaped."""
        b, m, f = memory.shape[0], memory.shape[3], future.shape[3]
        mt = torch.as_tensor(memory_t, dtype=torch.float32, device=future.device).reshape(-1, 1).expand(b, m)
        times = torch.cat([mt, t.to(torch.float32).reshape(b, 1).expand(b, f)], dim=1)
        lat = torch.cat([memory, future], dim=3)
        out = self.transformer(
            lat,
            times,
            actions,
            state,
            task_index,
            text_embeds,
            self._rope_scale(),
            self.action_frames(actions.shape[1]),
            action_drop,
        )
        return out[:, :, :, m:]

    def guided_velocity(
        self,
        memory: torch.Tensor,
        future: torch.Tensor,
        t: torch.Tensor,
        actions: torch.Tensor,
        state: torch.Tensor,
        guidance: float,
        task_index: torch.Tensor | None = None,
        text_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Classifier-free action guidance: ``v_null + w (v_actions - v_null)`` (one batched call).

        ``guidance`` w = 1 is the plain conditional velocity (a single call, no null branch).
        """
        if guidance == 1.0:
            return self.velocity(memory, future, t, actions, state, task_index, text_embeds)
        self.config.check_guidance(guidance)
        b = memory.shape[0]
        two = lambda x: None if x is None else torch.cat([x, x])  # noqa: E731
        drop = torch.arange(2 * b, device=future.device) >= b
        v = self.velocity(
            two(memory),
            two(future),
            two(t),
            two(actions),
            two(state),
            two(task_index),
            two(text_embeds),
            action_drop=drop,
        )
        v_act, v_null = v[:b], v[b:]
        return v_null + guidance * (v_act - v_null)

    def action_frames(self, k: int) -> torch.Tensor:
        """``(K,)`` latent-frame index of each world-model action token: token j drives future frame j,
        which lives in future latent frame ``ceil(j / r)`` (causal VAE), after the memory frames."""
        r = self.config.temporal_ratio
        j = torch.arange(k, device=self.device)
        return self.config.memory_frames + (j + r - 1) // r

    def encode_memory(self, history_frames: torch.Tensor) -> torch.Tensor:
        """``(B, M, V, H, W, 3)`` uint8 -> ``(B, V, C, M, h, w)`` latents (posterior mode)."""
        self._check_frames(history_frames, self.config.memory_frames, "history_frames")
        return self.codec.encode_memory(history_frames.to(self.device))

    @torch.no_grad()
    def imagine_latents(
        self,
        memory: torch.Tensor,
        state: torch.Tensor,
        action_chunk: torch.Tensor,
        steps: int | None = None,
        seeds: Sequence[int] | None = None,
        generators: Sequence[torch.Generator] | None = None,
        task_index: torch.Tensor | None = None,
        text_embeds: torch.Tensor | None = None,
        guidance: float | None = None,
        guidance_interval: Sequence[float] | None = None,
    ) -> torch.Tensor:
        """Sample future latents ``(B, V, C, F, h, w)`` given memory latents ``(B, V, C, M, h, w)``.

        ``guidance``: action guidance weight (default ``config.action_guidance``; see :meth:`guided_velocity`).
        ``guidance_interval``: flow times ``(lo, hi]`` whose steps are guided, the others plain
        (default ``config.action_guidance_interval``).
        """
        b = memory.shape[0]
        self._check_state(state, b)
        dev = self.device
        acts = self.action_tokens(action_chunk.to(dev), state.to(dev))
        st = self.normalize(state.to(dev))
        c = self.config
        h, w = c.latent_hw
        shape = (b, c.views, c.latent_channels, c.future_latent_frames, h, w)
        noise = per_sample_noise(shape, seeds=seeds, generators=generators, device=dev)
        tid = None if task_index is None else torch.as_tensor(task_index, device=dev).long().reshape(b)

        w = c.action_guidance if guidance is None else float(guidance)
        interval = c.action_guidance_interval
        if guidance_interval is not None:
            interval = check_guidance_interval(guidance_interval)

        def field(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.guided_velocity(memory, x, t, acts, st, guidance_at(float(t[0]), w, interval), tid, text_embeds)

        return EulerFlowSampler(steps or c.sample_steps).sample(field, noise)

    @torch.no_grad()
    def imagine(
        self,
        history_frames: torch.Tensor,
        state: torch.Tensor,
        action_chunk: torch.Tensor,
        steps: int | None = None,
        seeds: Sequence[int] | None = None,
        generators: Sequence[torch.Generator] | None = None,
        task_index: torch.Tensor | None = None,
        text_embeds: torch.Tensor | None = None,
        guidance: float | None = None,
        guidance_interval: Sequence[float] | None = None,
    ) -> torch.Tensor:
        """Imagine the next frames of every view.

        Args:
            history_frames: ``(B, 4, V, H, W, 3)`` uint8 memory frames, oldest first.
            state: ``(B, 14)`` absolute joint state at the last memory frame.
            action_chunk: ``(B, 50, 14)`` absolute joint targets at 30 Hz.
            steps: Euler steps (default ``config.sample_steps``; 10 online, 50 for evaluation).
            seeds / generators: one per sample; a sample's output depends only on its own seed.
            task_index: ``(B,)`` task ids; or ``text_embeds`` ``(B, L, caption_channels)`` cached.
            guidance: action guidance weight (default ``config.action_guidance``; > 1 needs a null action).
            guidance_interval: flow times ``(lo, hi]`` whose Euler steps are guided (default
                ``config.action_guidance_interval``); the other steps make one network call instead of two.

        Returns:
            ``(B, 25, V, H, W, 3)`` uint8 imagined frames at 15 Hz (numpy inputs are accepted too).
        """
        history_frames = torch.as_tensor(history_frames)
        state = torch.as_tensor(state, dtype=torch.float32)
        action_chunk = torch.as_tensor(action_chunk, dtype=torch.float32)
        memory = self.encode_memory(history_frames)
        lat = self.imagine_latents(
            memory, state, action_chunk, steps, seeds, generators, task_index, text_embeds, guidance, guidance_interval
        )
        return self.codec.decode_frames(lat)

    # ------------------------------------------------------------------ training
    @torch.no_grad()
    def encode_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Replace ``memory_frames``/``future_frames`` by ``memory_latents``/``future_latents``
        (posterior modes), so training on a cached dataset skips the frozen VAE."""
        c = self.config
        for key, count in (("memory_frames", c.memory_frames), ("future_frames", c.future_frames)):
            if key not in batch:
                raise KeyError(f"batch is missing {key!r} (keys: {sorted(batch)})")
            self._check_frames(batch[key], count, key)
        out = {k: v for k, v in batch.items() if k not in ("memory_frames", "future_frames")}
        out["memory_latents"] = self.codec.encode_memory(batch["memory_frames"].to(self.device))
        out["future_latents"] = self.codec.encode_future(batch["future_frames"].to(self.device))
        return out

    def loss(
        self,
        batch: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
        action_dropout: float = 0.0,
        latent_motion_weight: float = 0.0,
        t: float | None = None,
    ) -> torch.Tensor:
        """Per-sample flow-matching loss ``(B,)`` on future tokens only.

        Batch keys: ``memory_frames`` (B, 4, V, H, W, 3) uint8, ``future_frames`` (B, 25, V, H, W, 3)
        uint8 (or their cached ``memory_latents``/``future_latents`` from :meth:`encode_batch`),
        ``actions`` (B, 50, 14), ``state`` (B, 14), optional ``task_index`` (B,) long.
        Memory latents get flow noise at level ``context_noise`` but keep t = 0 (as when sampling), so
        the model learns to trust imperfect (re-encoded imagined) memories. A fraction ``action_dropout``
        of the samples (drawn from ``generator``) is conditioned on the null action instead of its own,
        which teaches the unconditional velocity that action guidance needs. ``latent_motion_weight`` > 0
        weights each latent's error by how much it changes over the chunk (:func:`motion_weights`), so
        the few moving latents are not outweighed by the still background. All noise is drawn on the
        generator's device (on the model's device without one). ``t`` fixes every sample's flow time
        (1 = noise) instead of drawing it logit-normal, to see where along the flow a model fits.
        """
        c, dev = self.config, self.device
        for key in ("actions", "state"):
            if key not in batch:
                raise KeyError(f"batch is missing {key!r} (keys: {sorted(batch)})")
        if "memory_latents" not in batch or "future_latents" not in batch:
            batch = self.encode_batch(batch)
        memory, future = batch["memory_latents"].to(dev), batch["future_latents"].to(dev)
        b = memory.shape[0]
        h, w = c.latent_hw
        want_m = (b, c.views, c.latent_channels, c.memory_frames, h, w)
        want_f = (b, c.views, c.latent_channels, c.future_latent_frames, h, w)
        if tuple(memory.shape) != want_m or tuple(future.shape) != want_f:
            raise ValueError(
                f"latents must be {want_m} and {want_f}, got {tuple(memory.shape)} and {tuple(future.shape)}"
            )
        self._check_state(batch["state"], b)
        acts = self.action_tokens(batch["actions"].to(dev), batch["state"].to(dev))
        st = self.normalize(batch["state"].to(dev))
        tid = batch.get("task_index")
        tid = None if tid is None else torch.as_tensor(tid, device=dev).long().reshape(b)

        draw_on = dev if generator is None else generator.device  # a device generator keeps the host out of it

        def randn(x: torch.Tensor) -> torch.Tensor:
            return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=draw_on).to(dev)

        s = c.context_noise
        memory = (1.0 - s) * memory + s * randn(memory)
        if t is None:
            t = logit_normal_t(b, c.logit_mean, c.logit_std, generator, device=dev)
        elif 0.0 <= t <= 1.0:
            t = torch.full((b,), float(t), device=dev)
        else:
            raise ValueError(f"flow time t must lie in [0, 1] (1 = noise), got {t}")
        eps = randn(future)
        tb = t.view(b, 1, 1, 1, 1, 1)
        x_t = (1.0 - tb) * future + tb * eps
        drop = None
        if action_dropout > 0:
            if not c.null_action:
                raise ValueError("action_dropout needs a model with a null action (config.null_action=True)")
            drop = (torch.rand(b, generator=generator, device=draw_on) < action_dropout).to(dev)
        pred = self.velocity(memory, x_t, t, acts, st, tid, batch.get("text_embeds"), action_drop=drop)
        mask = torch.ones(b, future.shape[3], device=dev)
        weight = motion_weights(future, latent_motion_weight) if latent_motion_weight else None
        return velocity_loss(pred, eps - future, mask, weight)

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json`` + ``model.safetensors`` (each through a temp file + rename)."""
        d = Path(directory)
        write_safetensors(d / WEIGHTS_NAME, self.state_dict(), metadata={"format": "pt", "preset": self.config.preset})
        write_json(d / CONFIG_NAME, self.config.model_dump(mode="json"))

    @classmethod
    def from_pretrained(cls, directory: str | Path, strict: bool = True, map_location: str = "cpu") -> DynamicsModel:
        """Rebuild from ``config.json`` and load ``model.safetensors`` (shapes and keys checked)."""
        d = Path(directory)
        if not (d / CONFIG_NAME).exists():
            raise FileNotFoundError(f"{d / CONFIG_NAME} not found (expected a save_pretrained folder)")
        config = DynamicsConfig.model_validate_json((d / CONFIG_NAME).read_text())
        model = cls(config)
        load_checked(model, read_state_dict(d / WEIGHTS_NAME), strict=strict)
        return model.to(map_location)

    def load_ltx_transformer(self, checkpoint: str | Path) -> LoadReport:
        """Load a diffusers ``LTXVideoTransformer3DModel`` (or GE-base) checkpoint into the transformer.

        Only the action/state/view/task modules may be missing; anything else missing, or any
        unexpected key, raises with the offending names.
        """
        report = load_checked(self.transformer, read_state_dict(checkpoint), strict=False)
        foreign = [k for k in report.missing if not k.startswith(NEW_MODULE_PREFIXES)]
        if foreign or report.unexpected:
            raise ValueError(
                f"not an LTX transformer checkpoint for this preset: missing {foreign[:8]}, "
                f"unexpected {report.unexpected[:8]}"
            )
        return report

    def load_ltx_vae(self, checkpoint: str | Path) -> LoadReport:
        """Load a diffusers ``AutoencoderKLLTXVideo`` checkpoint (e.g. LTX-Video's ``vae/``), strictly."""
        return load_checked(self.codec.vae, read_state_dict(checkpoint), strict=True)

    def num_parameters(self) -> dict[str, int]:
        """Parameter counts of ``vae``, ``transformer`` and ``new_modules`` (action/view/task)."""
        new = sum(p.numel() for n, p in self.transformer.named_parameters() if n.startswith(NEW_MODULE_PREFIXES))
        return {
            "vae": sum(p.numel() for p in self.codec.vae.parameters()),
            "transformer": sum(p.numel() for p in self.transformer.parameters()),
            "new_modules": new,
        }

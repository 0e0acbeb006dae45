"""Advantage-conditioned VLA: network + tokenizer + prompt + flow sampler, in normalised space.

Batch contract of ``AdvantageVLA.loss`` (everything already normalised; see the constants)::

    images         (B, V, 3, H, W) float in [-1, 1] at cfg.vision.image_size, views in cfg.camera_names order
    image_masks    (B, V) bool, optional (default all True): False marks a missing view
    state          (B, state_dim) float, quantile-normalised to [-1, 1]
    actions        (B, H, env_action_dim or action_dim) float, normalised; zero-padded to action_dim
    task           list of B strings
    advantage_bin  (B,) int64 in 0..num_bins (0 = no advantage / null prompt)
    action_is_pad  (B, H) bool, optional: True for steps past the episode end (excluded from the loss)

``sample_actions`` takes the same keys minus ``actions`` / ``action_is_pad``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import Tensor, nn

from rise_env.models.vla.config import VLAConfig
from rise_env.models.vla.flow import FlowSample, FlowSampler, VelocityFn, cfg_combine, interpolate, sample_time
from rise_env.models.vla.model import Pi05VLA, PrefixCache
from rise_env.models.vla.prompt import PromptBuilder
from rise_env.models.vla.tokenizer import Tokenizer, load_tokenizer

IMAGES = "images"
IMAGE_MASKS = "image_masks"
STATE = "state"
ACTIONS = "actions"
TASK = "task"
ADVANTAGE_BIN = "advantage_bin"
ACTION_IS_PAD = "action_is_pad"
OBS_KEYS = (IMAGES, IMAGE_MASKS, STATE, TASK)
BATCH_KEYS = (IMAGES, IMAGE_MASKS, STATE, ACTIONS, TASK, ADVANTAGE_BIN, ACTION_IS_PAD)


@torch.no_grad()
def init_number_embeddings(weight: Tensor, tokenizer: Tokenizer, values: int, channels: int = 32,
                           amplitude: float = 0.08) -> int:
    """Write a sin-cos code of n into the first ``channels`` columns of the rows of tokens "n" / " n".

    weight: (vocab, width) embedding matrix. Periods run geometrically from 4 to 2·``values`` so
    neighbouring numbers get similar rows and the value is linearly readable. Numbers that do not
    encode to a single token are skipped; returns the number of rows written.
    """
    if weight.is_meta:
        return 0
    k = channels // 2
    periods = 4.0 * (2.0 * values / 4.0) ** (torch.arange(k, dtype=torch.float64) / max(1, k - 1))
    written = 0
    for n in range(values):
        angle = 2 * math.pi * n / periods
        code = amplitude * torch.cat([torch.sin(angle), torch.cos(angle)]).to(weight.dtype)
        for text in (str(n), f" {n}"):
            ids = tokenizer.encode(text)
            if len(ids) == 1:
                weight[ids[0], : 2 * k] = code
                written += 1
    return written


class AdvantageVLA(nn.Module):
    """π0.5 network with advantage prompts, CFG and the shared sampling / loss API."""

    def __init__(self, cfg: VLAConfig, tokenizer: Tokenizer | None = None, model: Pi05VLA | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = Pi05VLA(cfg) if model is None else model
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.tokenizer)
        if self.tokenizer.vocab_size > cfg.vocab_size:
            raise ValueError(f"tokenizer has {self.tokenizer.vocab_size} tokens but vocab_size is {cfg.vocab_size}")
        self.prompt = PromptBuilder(cfg.prompt, self.tokenizer, cfg.max_token_len, cfg.discrete_state_input)
        if model is None and cfg.number_embedding_init:
            embed = self.model.paligemma_with_expert.language_model.embed_tokens
            init_number_embeddings(embed.weight, self.tokenizer, cfg.prompt.state_bins)

    @property
    def device(self) -> torch.device:
        return self.model.action_in_proj.weight.device

    # ------------------------------------------------------------------ inputs
    def _bins(self, advantage_bin: int | Tensor, batch: int) -> Tensor:
        bins = torch.as_tensor(advantage_bin, dtype=torch.long).reshape(-1).cpu()
        if bins.numel() == 1:
            bins = bins.expand(batch)
        if bins.numel() != batch:
            raise ValueError(f"advantage_bin must be an int or (B={batch},); got {tuple(bins.shape)}")
        if bins.min() < 0 or bins.max() > self.cfg.prompt.num_bins:
            raise ValueError(f"advantage_bin must be in 0..{self.cfg.prompt.num_bins}; got {bins.tolist()}")
        return bins

    def _obs(self, obs: Mapping[str, Any]) -> tuple[Tensor, Tensor, Tensor | None, list[str]]:
        for key in (IMAGES, TASK):
            if key not in obs:
                raise KeyError(f"observation is missing {key!r}; expected keys {OBS_KEYS}")
        images = torch.as_tensor(obs[IMAGES], device=self.device)
        b, nv = images.shape[:2]
        masks = obs.get(IMAGE_MASKS)
        masks = torch.ones(b, nv, dtype=torch.bool, device=self.device) if masks is None else masks.to(self.device)
        state = obs.get(STATE)
        if state is not None:
            state = torch.as_tensor(state, dtype=torch.float32)
            if state.shape != (b, self.cfg.state_dim):
                raise ValueError(f"state must be (B={b}, {self.cfg.state_dim}); got {tuple(state.shape)}")
        tasks = [obs[TASK]] * b if isinstance(obs[TASK], str) else list(obs[TASK])
        if len(tasks) != b:
            raise ValueError(f"{len(tasks)} tasks for a batch of {b}")
        return images, masks, state, tasks

    def encode(self, obs: Mapping[str, Any], advantage_bin: int | Tensor) -> PrefixCache:
        """Prefix cache for a batch of observations (see module docstring for keys)."""
        images, masks, state, tasks = self._obs(obs)
        tokens, tmask = self.prompt(tasks, self._bins(advantage_bin, len(tasks)), state, device=self.device)
        return self.model.encode_prefix(images, masks, tokens, tmask, state=state)

    def velocity_fn(
        self, obs: Mapping[str, Any], advantage_bin: int | Tensor, guidance_weight: float = 1.0
    ) -> VelocityFn:
        """Encode the prefix once and return ``v(x_t, t)``; with guidance w ≠ 1 it returns
        ``v_uncond + w·(v_cond − v_uncond)`` where the unconditional branch uses the null prompt."""
        images, masks, state, tasks = self._obs(obs)
        bins = self._bins(advantage_bin, len(tasks))
        if guidance_weight == 1.0:
            tokens, tmask = self.prompt(tasks, bins, state, device=self.device)
            prefix = self.model.encode_prefix(images, masks, tokens, tmask, state=state)
            return lambda x, t: self.model.velocity(prefix, x, t)
        b = len(tasks)
        both = torch.cat([bins, torch.zeros_like(bins)])
        state2 = None if state is None else state.repeat(2, 1)
        tokens, tmask = self.prompt(tasks * 2, both, state2, device=self.device)
        img_tok = self.model.embed_images(images).repeat(2, 1, 1)
        prefix = self.model.encode_prefix(images, masks.repeat(2, 1), tokens, tmask, image_tokens=img_tok, state=state2)

        def guided(x: Tensor, t: Tensor) -> Tensor:
            v = self.model.velocity(prefix, x.repeat(2, 1, 1), t.repeat(2))
            return cfg_combine(v[:b], v[b:], guidance_weight)

        return guided

    # ------------------------------------------------------------------ sampling
    def sample_actions(
        self,
        obs: Mapping[str, Any],
        advantage_bin: int | Tensor = 10,
        noise: Tensor | None = None,
        num_steps: int | None = None,
        mode: Literal["ode", "sde"] = "ode",
        noise_level: float = 0.5,
        return_chain: bool = False,
        sde_steps: Literal["all", "one"] = "all",
        guidance_weight: float = 1.0,
        generator: torch.Generator | None = None,
        noise_temperature: float = 1.0,
    ) -> FlowSample:
        """Sample normalised action chunks (B, H, action_dim) from noise (B, H, action_dim) at t = 1.

        ``return_chain`` adds the chain (B, K+1, H, D), per-step log-probs (B, K) over the real
        action dims, and the stochastic-step mask. ``noise`` is the DSRL / PPO hook; without it the
        noise is drawn ~ N(0, noise_temperature²) (below 1: samples nearer the modes, 0: deterministic).
        """
        if noise_temperature < 0:
            raise ValueError(f"noise_temperature must be >= 0; got {noise_temperature}")
        fn = self.velocity_fn(obs, advantage_bin, guidance_weight)
        b = obs[IMAGES].shape[0]
        shape = (b, self.cfg.action_horizon, self.cfg.action_dim)
        if noise is None:
            noise = (noise_temperature * torch.randn(shape, generator=generator)).to(self.device)
        elif tuple(noise.shape) != shape:
            raise ValueError(f"noise must be {shape}; got {tuple(noise.shape)}")
        sampler = FlowSampler(num_steps or self.cfg.num_steps, mode, noise_level, sde_steps)
        return sampler.sample(
            fn, noise.to(self.device), generator, return_chain=return_chain, log_prob_dims=self.cfg.env_action_dim
        )

    def chain_log_probs(
        self,
        obs: Mapping[str, Any],
        advantage_bin: int | Tensor,
        chain: Tensor,
        stochastic: Tensor,
        noise_level: float = 0.5,
        guidance_weight: float = 1.0,
    ) -> Tensor:
        """Differentiable log-probs (B, K) of a stored chain under the current weights (PPO)."""
        sampler = FlowSampler(chain.shape[1] - 1, "sde", noise_level)
        fn = self.velocity_fn(obs, advantage_bin, guidance_weight)
        return sampler.chain_log_probs(fn, chain.to(self.device), stochastic.to(self.device), self.cfg.env_action_dim)

    # ------------------------------------------------------------------ training
    def loss(
        self,
        batch: Mapping[str, Any],
        noise: Tensor | None = None,
        time: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Per-sample flow-matching loss (B,): MSE(v, ε − a) over real dims and non-padded steps.

        With ``cfg.cfg_dropout`` > 0 a random subset of advantage bins is replaced by 0 (null prompt).
        """
        if ACTIONS not in batch or ADVANTAGE_BIN not in batch:
            raise KeyError(f"batch needs {ACTIONS!r} and {ADVANTAGE_BIN!r}; expected keys {BATCH_KEYS}")
        images, masks, state, tasks = self._obs(batch)
        b, h = len(tasks), self.cfg.action_horizon
        actions = torch.as_tensor(batch[ACTIONS], dtype=torch.float32, device=self.device)
        if actions.ndim != 3 or actions.shape[:2] != (b, h) or actions.shape[2] > self.cfg.action_dim:
            raise ValueError(f"actions must be (B={b}, H={h}, <= {self.cfg.action_dim}); got {tuple(actions.shape)}")
        actions = nn.functional.pad(actions, (0, self.cfg.action_dim - actions.shape[2]))
        bins = self._bins(batch[ADVANTAGE_BIN], b)
        if self.training and self.cfg.cfg_dropout > 0:
            drop = torch.rand(b, generator=generator) < self.cfg.cfg_dropout
            bins = torch.where(drop, torch.zeros_like(bins), bins)
        tokens, tmask = self.prompt(tasks, bins, state, device=self.device)
        if noise is None:
            noise = torch.randn(actions.shape, generator=generator).to(self.device)
        if time is None:
            time = sample_time(b, *self.cfg.time_beta, generator=generator).to(self.device)
        x_t, target = interpolate(actions, noise, time)
        v = self.model(images, masks, tokens, tmask, x_t, time, state=state)
        err = (v.float() - target).pow(2)[..., : self.cfg.env_action_dim]
        valid = torch.ones(b, h, dtype=torch.bool, device=self.device)
        if batch.get(ACTION_IS_PAD) is not None:
            valid = ~torch.as_tensor(batch[ACTION_IS_PAD], dtype=torch.bool, device=self.device)
        per_step = err.mean(-1) * valid
        return per_step.sum(-1) / valid.sum(-1).clamp(min=1)

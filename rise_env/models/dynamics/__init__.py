"""Controllable multi-view video dynamics model: LTX-Video VAE + action-conditioned LTX transformer,
trained by latent flow matching and sampled with a separate Euler integrator."""

from rise_env.models.dynamics.config import PRESETS, DynamicsConfig, TransformerConfig, get_preset
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.models.dynamics.sampler import EulerFlowSampler, logit_normal_t, per_sample_noise
from rise_env.models.dynamics.transformer import ActionConditionedLTXTransformer
from rise_env.models.dynamics.vae import AutoencoderTrainer, LatentCodec, build_vae, train_vae_step

__all__ = [
    "PRESETS",
    "ActionConditionedLTXTransformer",
    "AutoencoderTrainer",
    "DynamicsConfig",
    "DynamicsModel",
    "EulerFlowSampler",
    "LatentCodec",
    "TransformerConfig",
    "build_vae",
    "get_preset",
    "logit_normal_t",
    "per_sample_noise",
    "train_vae_step",
]

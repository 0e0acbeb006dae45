"""Controllable multi-view video dynamics model: LTX-Video VAE + action-conditioned LTX transformer,
trained by latent flow matching and sampled with a separate Euler integrator.

    model = DynamicsModel.from_preset("cpu")            # or DynamicsModel.from_pretrained(dir)
    frames = model.imagine(history, state, chunk, steps=10, seeds=[0])   # (B, 25, 3, 96, 128, 3) uint8 (cpu preset)
"""

from rise_env.models.dynamics.config import PRESETS, DynamicsConfig, TransformerConfig, get_preset
from rise_env.models.dynamics.evaluation import evaluate_dynamics
from rise_env.models.dynamics.grow import deepened
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.models.dynamics.rollout import imagine_rollout, select_memory, sparse_memory_indices
from rise_env.models.dynamics.sampler import EulerFlowSampler, logit_normal_t, per_sample_noise
from rise_env.models.dynamics.training import BATCH_KEYS, DynamicsTrainer, train_dynamics, train_vae
from rise_env.models.dynamics.transformer import ActionConditionedLTXTransformer
from rise_env.models.dynamics.vae import AutoencoderTrainer, LatentCodec, build_vae, train_vae_step

__all__ = [
    "BATCH_KEYS",
    "PRESETS",
    "ActionConditionedLTXTransformer",
    "AutoencoderTrainer",
    "DynamicsConfig",
    "DynamicsModel",
    "DynamicsTrainer",
    "EulerFlowSampler",
    "LatentCodec",
    "TransformerConfig",
    "build_vae",
    "deepened",
    "evaluate_dynamics",
    "get_preset",
    "imagine_rollout",
    "logit_normal_t",
    "per_sample_noise",
    "select_memory",
    "sparse_memory_indices",
    "train_dynamics",
    "train_vae",
    "train_vae_step",
]

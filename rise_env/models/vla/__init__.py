"""π0.5-style vision-language-action model in pure PyTorch, with openpi parameter names.

- ``Pi05VLA``: the network (SigLIP + Gemma prefix, adaRMS action expert, flow heads).
- ``AdvantageVLA``: network + tokenizer + advantage prompts + CFG; ``sample_actions`` and ``loss``.
- ``FlowSampler``: Euler ODE / flow-SDE integration with per-step Gaussian log-probs.
- ``load_pi05_weights``: openpi-PyTorch / LeRobot π0.5 checkpoints → ``Pi05VLA``.
"""

from rise_env.models.vla.config import (
    GEMMA_VARIANTS,
    VLA_PRESETS,
    GemmaConfig,
    PromptConfig,
    UnknownPresetError,
    VisionConfig,
    VLAConfig,
    get_vla_config,
)
from rise_env.models.vla.convert import (
    CheckpointKeyError,
    CheckpointShapeError,
    ConversionReport,
    config_from_checkpoint,
    export_state_dict,
    load_norm_stats,
    load_pi05_weights,
)
from rise_env.models.vla.flow import FlowSample, FlowSampler, cfg_combine, gaussian_log_prob, sample_time
from rise_env.models.vla.io import load_vla, save_vla
from rise_env.models.vla.masks import make_att_2d_masks
from rise_env.models.vla.model import Pi05VLA, PrefixCache
from rise_env.models.vla.pipeline import BATCH_KEYS, OBS_KEYS, AdvantageVLA
from rise_env.models.vla.prompt import PromptBuilder, advantage_to_bin, discretize_state
from rise_env.models.vla.tokenizer import ByteTokenizer, Tokenizer, load_tokenizer

__all__ = [
    "BATCH_KEYS",
    "GEMMA_VARIANTS",
    "OBS_KEYS",
    "VLA_PRESETS",
    "AdvantageVLA",
    "ByteTokenizer",
    "CheckpointKeyError",
    "CheckpointShapeError",
    "ConversionReport",
    "FlowSample",
    "FlowSampler",
    "GemmaConfig",
    "Pi05VLA",
    "PrefixCache",
    "PromptBuilder",
    "PromptConfig",
    "Tokenizer",
    "UnknownPresetError",
    "VLAConfig",
    "VisionConfig",
    "advantage_to_bin",
    "cfg_combine",
    "config_from_checkpoint",
    "discretize_state",
    "export_state_dict",
    "gaussian_log_prob",
    "get_vla_config",
    "load_norm_stats",
    "load_pi05_weights",
    "load_tokenizer",
    "make_att_2d_masks",
    "sample_time",
    "save_vla",
    "load_vla",
]

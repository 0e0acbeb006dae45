"""Progress + TD value model on the π0.5 prefix (paper Sec. III-A, Eqs. 5–6).

- ``ValueModel``: SigLIP + Gemma prefix (policy / π0.5 parameter names) and an MLP head on the
  mean valid prefix token; ``values(frames, task)`` for batched inference; save / load.
- ``ValueTrainer``: progress loss alone for the first part of training, then progress + TD.
- ``train_value``: the full run (frame bank, tqdm, TensorBoard, checkpoints, resume, held-out eval).
"""

from rise_env.models.value.config import (
    TRAIN_PRESETS,
    VALUE_PRESETS,
    ValueConfig,
    ValueTrainConfig,
    get_value_config,
    get_value_train_config,
)
from rise_env.models.value.data import FrameBank, split_episodes
from rise_env.models.value.evaluation import episode_curves, evaluate_value_model
from rise_env.models.value.io import load_value_model, save_value_model
from rise_env.models.value.losses import progress_only_steps, td_targets, use_td, value_losses
from rise_env.models.value.model import ValueModel
from rise_env.models.value.run import train_value
from rise_env.models.value.training import ValueTrainer

__all__ = [
    "TRAIN_PRESETS",
    "VALUE_PRESETS",
    "FrameBank",
    "ValueConfig",
    "ValueModel",
    "ValueTrainConfig",
    "ValueTrainer",
    "episode_curves",
    "evaluate_value_model",
    "get_value_config",
    "get_value_train_config",
    "load_value_model",
    "progress_only_steps",
    "save_value_model",
    "split_episodes",
    "td_targets",
    "train_value",
    "use_td",
    "value_losses",
]

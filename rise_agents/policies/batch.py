"""Policy-level observation / batch contract and preprocessing into the VLA's normalised inputs.

Observation (what ``env.step`` returns), single or batched::

    top, left_wrist, right_wrist   (H, W, 3) or (B, H, W, 3) uint8 (float in [0, 1] also accepted)
    state                          (14,) or (B, 14), absolute joint units
    task                           optional str or list of B str (else the policy's default task)

Training batch for ``AdvantageConditionedPolicy.loss`` = a batched observation plus::

    actions          (B, H, 14) absolute joint units
    advantage_bin    (B,) int in 0..10 (0 = no advantage / null prompt; demos use 10)
    action_is_pad    (B, H) bool, optional (steps past the episode end)
    image_masks      (B, 3) bool, optional (False = camera missing)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rise_env.spec.robot import CAMERA_KEYS, STATE_KEY

TASK = "task"
ACTIONS = "actions"
ADVANTAGE_BIN = "advantage_bin"
ACTION_IS_PAD = "action_is_pad"
IMAGE_MASKS = "image_masks"
OBS_KEYS = (*CAMERA_KEYS, STATE_KEY)
BATCH_KEYS = (*CAMERA_KEYS, STATE_KEY, TASK, ACTIONS, ADVANTAGE_BIN, ACTION_IS_PAD, IMAGE_MASKS)


def as_tensor(x: Any, dtype: torch.dtype | None = None) -> Tensor:
    """numpy / list / tensor → tensor (no copy for tensors of the right dtype)."""
    if isinstance(x, Tensor):
        return x if dtype is None else x.to(dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype)


def is_batched(obs: Mapping[str, Any], camera_keys: tuple[str, ...] = CAMERA_KEYS) -> bool:
    """True if the images carry a leading batch dimension (B, H, W, 3)."""
    missing = [k for k in (*camera_keys, STATE_KEY) if k not in obs]
    if missing:
        raise KeyError(f"observation is missing {missing}; expected keys {(*camera_keys, STATE_KEY)}")
    ndim = np.ndim(obs[camera_keys[0]])
    if ndim not in (3, 4):
        raise ValueError(f"{camera_keys[0]!r} must be (H, W, 3) or (B, H, W, 3); got ndim {ndim}")
    return ndim == 4


def resize_with_pad(images: Tensor, size: tuple[int, int], pad_value: float = -1.0) -> Tensor:
    """(N, 3, H, W) → (N, 3, th, tw): bilinear resize keeping the aspect ratio, centred padding."""
    th, tw = size
    h, w = images.shape[-2:]
    if (h, w) == (th, tw):
        return images
    scale = min(th / h, tw / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    out = F.interpolate(images, size=(nh, nw), mode="bilinear", align_corners=False)
    top, left = (th - nh) // 2, (tw - nw) // 2
    return F.pad(out, (left, tw - nw - left, top, th - nh - top), value=pad_value)


def images_to_model(
    obs: Mapping[str, Any], camera_keys: tuple[str, ...], size: tuple[int, int], device: torch.device
) -> Tensor:
    """Per-camera (B, H, W, 3) images → (B, V, 3, th, tw) float in [-1, 1]."""
    views = []
    for key in camera_keys:
        img = as_tensor(obs[key]).to(device)
        if img.ndim != 4 or img.shape[-1] != 3:
            raise ValueError(f"{key!r} must be (B, H, W, 3) uint8; got {tuple(img.shape)}")
        img = img.permute(0, 3, 1, 2).float()
        img = img / 255.0 if not torch.is_floating_point(as_tensor(obs[key])) else img
        views.append(resize_with_pad(img * 2.0 - 1.0, size))
    return torch.stack(views, dim=1)


def add_batch_dim(obs: Mapping[str, Any]) -> dict[str, Any]:
    """Single observation → batch of one (task kept as a one-element list)."""
    out = {k: (as_tensor(v)[None] if k != TASK else [v]) for k, v in obs.items() if v is not None}
    return out


def tasks_of(obs: Mapping[str, Any], batch: int, default: str) -> list[str]:
    """The batch's task strings (obs['task'] if present, else the default)."""
    task = obs.get(TASK, default)
    tasks = [task] * batch if isinstance(task, str) else list(task)
    if len(tasks) != batch:
        raise ValueError(f"{len(tasks)} task strings for a batch of {batch}")
    return tasks

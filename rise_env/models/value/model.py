"""Progress + TD value model: the π0.5 prefix (SigLIP + Gemma) and an MLP head on its mean token.

``V(o, ℓ)``: one frame × V views (uint8 ``(B, V, H, W, 3)``, resized inside to the backbone's
image size) and the task instruction (prompt ``"Task: {task};\\nAction: "``, π0.5's native prompt
without state) → the final-normed prefix hidden states → mean over valid tokens (images + prompt,
RLinf's ``value_vlm_mode: mean_token``) → ReLU MLP → one scalar per frame.

Output range. The default ``tanh`` bounds V to [−1, 1]. The same scalar is trained on two targets
that both live there: progress ``t/T ∈ [0, 1]`` on successful expert episodes (paper Eq. 5) and
the TD target ``r + γ·V(o')`` with ``r = ±1`` only at the last frame (Eq. 6), whose fixed point is
``±γ^(T−1−t)``. A sigmoid could not express the negative values of failing episodes, and an
unbounded output lets bootstrapped targets drift outside the range of any true return; tanh keeps
every bootstrapped target inside [−1, 1]. The last head layer starts at zero, so V starts at 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rise_env.models.value.backbone import PREFIX_KEY_PREFIX, PrefixBackbone, masked_mean
from rise_env.models.value.config import ValueConfig, get_value_config
from rise_env.models.vla.convert import (
    CheckpointKeyError,
    CheckpointShapeError,
    config_from_checkpoint,
    read_state_dict,
    remap_state_dict,
)
from rise_env.models.vla.prompt import PromptBuilder
from rise_env.models.vla.tokenizer import Tokenizer, load_tokenizer


class ValueHead(nn.Module):
    """ReLU MLP (W → hidden… → 1) with a zero-initialised output layer."""

    def __init__(self, width: int, hidden: Sequence[int]) -> None:
        super().__init__()
        dims = [width, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Linear(dims[-1], 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, W) → raw value (B,)."""
        return self.out(self.mlp(x))[:, 0]


def frames_to_pixels(frames: Tensor, size: tuple[int, int], mode: str = "stretch") -> Tensor:
    """uint8 frames (N, H, W, 3) → float pixels (N, 3, h, w) in [-1, 1] at ``size``.

    ``mode="pad"`` keeps the aspect ratio and pads with black (−1), like openpi's resize_with_pad.
    """
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (N, H, W, 3); got {frames.dtype} {tuple(frames.shape)}")
    x = frames.permute(0, 3, 1, 2).float()
    h, w = size
    if tuple(x.shape[-2:]) != (h, w):
        if mode == "pad":
            scale = min(h / x.shape[-2], w / x.shape[-1])
            rh, rw = max(1, round(x.shape[-2] * scale)), max(1, round(x.shape[-1] * scale))
            x = F.interpolate(x, size=(rh, rw), mode="bilinear", antialias=True, align_corners=False)
            top, left = (h - rh) // 2, (w - rw) // 2
            x = F.pad(x, (left, w - rw - left, top, h - rh - top), value=0.0)
        else:
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return (x.clamp(0, 255) / 127.5 - 1.0).contiguous()


class ValueModel(nn.Module):
    """Value network. ``ValueModel(get_value_config("cpu"))``; on ``torch.device("meta")`` for counting."""

    def __init__(self, cfg: ValueConfig | None = None, tokenizer: Tokenizer | None = None) -> None:
        super().__init__()
        self.cfg = cfg or get_value_config("cpu")
        bb = self.cfg.backbone
        self.paligemma_with_expert = PrefixBackbone(bb)  # name kept: parameter names equal the policy's
        self.paligemma_with_expert.gradient_checkpointing = self.cfg.gradient_checkpointing
        self.value_head = ValueHead(bb.vlm.width, self.cfg.head_hidden)
        self._init_backbone()
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(bb.tokenizer)
        if self.tokenizer.vocab_size > bb.vocab_size:
            raise ValueError(f"tokenizer has {self.tokenizer.vocab_size} tokens but vocab_size is {bb.vocab_size}")
        self.prompt = PromptBuilder(bb.prompt, self.tokenizer, bb.max_token_len, discrete_state=False)
        self._token_cache: dict[str, tuple[Tensor, Tensor]] = {}

    def _init_backbone(self) -> None:
        """Small-normal init for training from scratch (as ``Pi05VLA``); skipped on the meta device."""
        if any(p.is_meta for p in self.parameters()):
            return
        for module in self.paligemma_with_expert.modules():
            if isinstance(module, (nn.Embedding, nn.Linear)):
                nn.init.normal_(module.weight, std=0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)

    @property
    def device(self) -> torch.device:
        return self.value_head.out.weight.device

    def num_parameters(self) -> int:
        """Total number of parameters (works on the meta device)."""
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ inputs
    def tokenize(self, instructions: Sequence[str]) -> tuple[Tensor, Tensor]:
        """B instructions → prompt tokens (B, T) long and mask (B, T) bool on the model's device."""
        rows = []
        for text in instructions:
            if text not in self._token_cache:
                self._token_cache[text] = self.prompt([text], [0])
            rows.append(self._token_cache[text])
        tokens = torch.cat([r[0] for r in rows]).to(self.device)
        return tokens, torch.cat([r[1] for r in rows]).to(self.device)

    def instructions(self, task: str | Sequence[str] | Sequence[int] | np.ndarray | Tensor, batch: int) -> list[str]:
        """A string, B strings, or task indices (int / (B,)) into ``cfg.task_names`` → B strings."""
        if isinstance(task, str):
            return [task] * batch
        if isinstance(task, (int, np.integer)) or (isinstance(task, (np.ndarray, Tensor)) and task.ndim == 0):
            task = [int(task)] * batch
        items = list(task.tolist() if isinstance(task, (np.ndarray, Tensor)) else task)
        if len(items) != batch:
            raise ValueError(f"{len(items)} instructions / task indices for a batch of {batch} frames")
        out = []
        for item in items:
            if isinstance(item, str):
                out.append(item)
            elif not 0 <= int(item) < len(self.cfg.task_names):
                raise ValueError(
                    f"task index {item} is not in 0..{len(self.cfg.task_names) - 1} of cfg.task_names "
                    f"{list(self.cfg.task_names)}; pass instruction strings instead"
                )
            else:
                out.append(self.cfg.task_names[int(item)])
        return out

    def preprocess(self, frames: Tensor | np.ndarray) -> Tensor:
        """uint8 (B, V, H, W, 3) → pixels (B, V, 3, h, w) in [-1, 1] at the backbone's image size."""
        frames = torch.as_tensor(frames)
        nv = self.cfg.num_views
        if frames.ndim != 5 or frames.shape[1] != nv or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(
                f"frames must be uint8 (B, {nv}, H, W, 3) with views {self.cfg.backbone.camera_names}; "
                f"got {frames.dtype} {tuple(frames.shape)}"
            )
        b = frames.shape[0]
        pix = frames_to_pixels(frames.flatten(0, 1).to(self.device), self.cfg.image_size, self.cfg.resize_mode)
        return pix.reshape(b, nv, *pix.shape[1:])

    # ------------------------------------------------------------------ forward
    def forward(self, images: Tensor, image_masks: Tensor | None, tokens: Tensor, token_mask: Tensor) -> Tensor:
        """images: (B, V, 3, H, W) in [-1, 1]; image_masks: (B, V) bool or None; tokens/token_mask: (B, T) → (B,)."""
        if image_masks is None:
            image_masks = torch.ones(images.shape[:2], dtype=torch.bool, device=images.device)
        hidden, pad = self.paligemma_with_expert(images, image_masks, tokens, token_mask)
        raw = self.value_head(masked_mean(hidden, pad))
        if self.cfg.output == "tanh":
            return torch.tanh(raw)
        return torch.sigmoid(raw) if self.cfg.output == "sigmoid" else raw

    def value(self, frames: Tensor | np.ndarray, task: str | Sequence[str] | Sequence[int] | Tensor) -> Tensor:
        """Differentiable values of uint8 frames (B, V, H, W, 3) for instructions / task indices → (B,)."""
        pixels = self.preprocess(frames)
        tokens, mask = self.tokenize(self.instructions(task, pixels.shape[0]))
        return self(pixels, None, tokens, mask)

    @torch.no_grad()
    def values(
        self,
        frames: Tensor | np.ndarray,
        task: str | Sequence[str] | Sequence[int] | np.ndarray | Tensor,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Batched inference. frames: uint8 (B, V, H, W, 3) → (B,) or (B, K, V, H, W, 3) → (B, K) float32.

        ``task``: one instruction, B instructions, or task index/indices into ``cfg.task_names``
        (one per row B; with K frames per row, every frame of a row uses its row's task).
        """
        arr = torch.as_tensor(frames)
        lead = arr.shape[:-4]
        if len(lead) not in (1, 2):
            raise ValueError(f"frames must be (B, V, H, W, 3) or (B, K, V, H, W, 3); got {tuple(arr.shape)}")
        tasks = self.instructions(task, lead[0])
        if len(lead) == 2:
            tasks = [t for t in tasks for _ in range(lead[1])]
        flat = arr.reshape(-1, *arr.shape[-4:])
        was_training = self.training
        self.eval()
        try:
            out = [
                self.value(flat[i : i + batch_size], tasks[i : i + batch_size]).float().cpu()
                for i in range(0, flat.shape[0], batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(out).reshape(lead).numpy() if out else np.zeros(lead, np.float32)

    # ------------------------------------------------------------------ weights
    def prefix_state_dict(self) -> dict[str, Tensor]:
        """The backbone tensors under their policy / openpi names."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(PREFIX_KEY_PREFIX)}

    def load_prefix(self, state: dict[str, Tensor]) -> int:
        """Copy every backbone tensor from a policy / π0.5 state dict (openpi, LeRobot or own names).

        Extra tensors (action expert, flow heads) are ignored; a missing backbone tensor raises
        ``CheckpointKeyError`` and a shape mismatch ``CheckpointShapeError``. Returns the number copied.
        """
        mapped, _ = remap_state_dict(state)
        own = self.prefix_state_dict()
        missing = sorted(set(own) - set(mapped))
        if missing:
            raise CheckpointKeyError(
                f"checkpoint lacks {len(missing)} backbone tensor(s) of the value model, e.g. {missing[:5]}"
            )
        bad = [(k, tuple(mapped[k].shape), tuple(v.shape)) for k, v in own.items() if mapped[k].shape != v.shape]
        if bad:
            detail = "; ".join(f"{k}: checkpoint {c} vs model {m}" for k, c, m in bad[:5])
            raise CheckpointShapeError(f"{len(bad)} backbone tensor(s) have the wrong shape: {detail}")
        with torch.no_grad():
            for k, v in own.items():
                v.copy_(mapped[k].to(v.dtype))
        return len(own)

    @classmethod
    def from_policy_checkpoint(
        cls,
        directory: str | Path,
        head_hidden: Sequence[int] | None = None,
        tokenizer: str | None = None,
        **overrides: object,
    ) -> ValueModel:
        """A value model whose backbone is copied from a saved policy (``{"policy": ...}``), a saved VLA
        (``{"vla": ...}``) or an openpi / LeRobot π0.5 directory; the head is new (V starts at 0).

        The backbone config comes from the checkpoint (image size, widths, tokenizer); the value
        prompt drops the state tokens. ``tokenizer`` replaces the checkpoint's (a raw openpi / LeRobot
        π0.5 directory needs PaliGemma's SentencePiece ``.model``); ``overrides`` set ``ValueConfig`` fields.
        """
        from rise_env.models.vla.io import resolve_tokenizer

        directory = Path(directory)
        cfg_file = directory / "config.json"
        if not cfg_file.is_file():
            raise FileNotFoundError(f"{cfg_file} not found (expected a policy, VLA or π0.5 checkpoint directory)")
        raw = json.loads(cfg_file.read_text())
        if "policy" in raw:
            vla = raw["policy"]["vla"]
        elif "vla" in raw:
            vla = raw["vla"]
        else:
            vla = config_from_checkpoint(directory).model_dump()
        vla["tokenizer"] = tokenizer or resolve_tokenizer(vla.get("tokenizer", "byte"), directory)
        vla["discrete_state_input"] = False
        preset = "pi05" if vla.get("name") == "pi05" else "cpu"
        base = get_value_config(preset)
        # the value prompt has no state tokens: a shorter token budget suffices
        vla["max_token_len"] = min(int(vla.get("max_token_len", 200)), base.backbone.max_token_len)
        fields = {**base.model_dump(), "name": f"from:{vla.get('name', 'custom')}", "backbone": vla, **overrides}
        if head_hidden is not None:
            fields["head_hidden"] = tuple(head_hidden)
        model = cls(ValueConfig.model_validate(fields))
        model.load_prefix(read_state_dict(directory))
        return model

    def save_pretrained(self, directory: str | Path) -> Path:
        """Atomically write ``config.json`` ({"value": ...}) and ``model.safetensors``."""
        from rise_env.models.value.io import save_value_model

        return save_value_model(self, directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> ValueModel:
        """Inverse of ``save_pretrained`` (strict: every key present with the right shape)."""
        from rise_env.models.value.io import load_value_model

        return load_value_model(directory, map_location)

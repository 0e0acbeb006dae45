"""Configuration of the π0.5-style VLA: vision tower, Gemma prefix, action expert, prompt, presets.

Named presets (``get_vla_config(name)``):

- ``tiny``: a few hundred thousand parameters, for unit tests.
- ``cpu``: ≈ 4.6M parameters, 3 views of 96×128, trains on 2 CPU cores (default).
- ``pi05``: the published π0.5 layout (SigLIP So400m/14 at 224 px, ``gemma_2b`` prefix,
  ``gemma_300m`` action expert, vocab 257152, action_dim 32, horizon 50); ≈ 3.35B parameters.
"""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GemmaConfig(BaseModel):
    """One Gemma decoder stack (the VLM prefix or the action expert)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    width: int = Field(gt=0, description="Hidden size (residual stream width).")
    depth: int = Field(gt=0, description="Number of decoder layers.")
    mlp_dim: int = Field(gt=0, description="Hidden size of the GeGLU MLP.")
    num_heads: int = Field(gt=0, description="Number of query heads.")
    num_kv_heads: int = Field(gt=0, description="Number of key/value heads (grouped-query attention).")
    head_dim: int = Field(gt=0, description="Size of one attention head.")
    rms_norm_eps: float = Field(1e-6, gt=0, description="Epsilon of the Gemma RMSNorm.")
    rope_theta: float = Field(10_000.0, gt=0, description="RoPE base frequency.")

    @model_validator(mode="after")
    def _check_heads(self) -> GemmaConfig:
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must be a multiple of num_kv_heads ({self.num_kv_heads})")
        return self


# Variant table of openpi's `gemma.get_config` (the PyTorch port reuses it).
GEMMA_VARIANTS: dict[str, GemmaConfig] = {
    "gemma_2b": GemmaConfig(width=2048, depth=18, mlp_dim=16_384, num_heads=8, num_kv_heads=1, head_dim=256),
    "gemma_300m": GemmaConfig(width=1024, depth=18, mlp_dim=4096, num_heads=8, num_kv_heads=1, head_dim=256),
    "dummy": GemmaConfig(width=64, depth=4, mlp_dim=128, num_heads=8, num_kv_heads=1, head_dim=16),
}


class VisionConfig(BaseModel):
    """SigLIP vision transformer (pre-LN ViT without pooling head)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_size: tuple[int, int] = Field((224, 224), description="Input (height, width) in pixels.")
    patch_size: int = Field(14, gt=0, description="Square patch size of the patch-embedding convolution.")
    width: int = Field(1152, gt=0, description="Hidden size of the vision transformer.")
    depth: int = Field(27, gt=0, description="Number of encoder layers.")
    mlp_dim: int = Field(4304, gt=0, description="Hidden size of the encoder MLP.")
    num_heads: int = Field(16, gt=0, description="Number of attention heads.")
    layer_norm_eps: float = Field(1e-6, gt=0, description="Epsilon of the LayerNorms.")

    @model_validator(mode="after")
    def _check(self) -> VisionConfig:
        h, w = self.image_size
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f"image_size {self.image_size} must be divisible by patch_size {self.patch_size}")
        if self.width % self.num_heads:
            raise ValueError(f"vision width {self.width} must be divisible by num_heads {self.num_heads}")
        return self

    @property
    def num_patches(self) -> int:
        """Tokens per image: (H / patch) · (W / patch)."""
        return (self.image_size[0] // self.patch_size) * (self.image_size[1] // self.patch_size)


SO400M_14_224 = VisionConfig()


class PromptConfig(BaseModel):
    """How the task, the discretised state and the advantage bin become the prompt.

    ``{task}``, ``{state}`` (space-separated 0..255 state tokens) and ``{bin}`` are filled in.
    The *null* template (advantage bin 0, used for classifier-free guidance and for prompts
    without an advantage) is exactly openpi's π0.5 prompt, so a pretrained π0.5 checkpoint
    sees its native format when no advantage is given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: str = Field(
        "Task: {task}, State: {state}, Advantage: {bin};\nAction: ",
        description="Prompt with an advantage bin (used when discrete_state_input is True).",
    )
    null_template: str = Field(
        "Task: {task}, State: {state};\nAction: ",
        description="Prompt without advantage (bin 0 / unconditional branch of CFG).",
    )
    template_no_state: str = Field(
        "Task: {task}, Advantage: {bin};\nAction: ",
        description="Prompt with an advantage bin when the state is not tokenised.",
    )
    null_template_no_state: str = Field(
        "Task: {task};\nAction: ", description="Prompt without advantage and without state tokens."
    )
    num_bins: int = Field(10, gt=0, description="Advantage bins 1..num_bins; 0 means 'no advantage'.")
    state_bins: int = Field(256, gt=1, description="Number of bins of the discretised state tokens.")


class VLAConfig(BaseModel):
    """The whole advantage-conditioned π0.5-style VLA."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("custom", description="Preset name this config came from (informational).")
    vision: VisionConfig = Field(default_factory=VisionConfig, description="SigLIP vision tower.")
    vlm: GemmaConfig = Field(GEMMA_VARIANTS["gemma_2b"], description="Gemma prefix (PaliGemma language model).")
    expert: GemmaConfig = Field(GEMMA_VARIANTS["gemma_300m"], description="Action expert (adaRMS-conditioned).")
    vocab_size: int = Field(257_152, gt=0, description="Token embedding rows of the prefix.")
    camera_names: tuple[str, ...] = Field(
        ("top", "left_wrist", "right_wrist"), description="Views in prefix order (openpi: base, left, right)."
    )
    state_dim: int = Field(14, gt=0, description="Real proprioceptive state dimensions (tokenised).")
    env_action_dim: int = Field(14, gt=0, description="Real action dimensions (loss and log-probs use these).")
    action_dim: int = Field(32, gt=0, description="Model action width; real actions are zero-padded to it.")
    action_horizon: int = Field(50, gt=0, description="Action chunk length H.")
    max_token_len: int = Field(200, gt=0, description="Prompt tokens (right-padded / truncated to this).")
    discrete_state_input: bool = Field(True, description="Put 256-bin state tokens in the prompt (π0.5).")
    continuous_state_input: bool = Field(
        False,
        description="Lead the action expert's suffix with one continuous state token (π0's ``state_proj``: "
        "the normalised state, zero-padded to action_dim, projected to the expert width).",
    )
    number_embedding_init: bool = Field(
        False,
        description="A fresh model starts the number tokens 0..state_bins-1 with a sin-cos code of their value "
        "(pretrained Gemma embeddings already order numbers; a from-scratch prefix must learn it).",
    )
    tokenizer: str = Field(
        "byte",
        description="'byte' (offline, defined in code) or a local path to a SentencePiece .model "
        "or a HF tokenizers .json file.",
    )
    prompt: PromptConfig = Field(default_factory=PromptConfig, description="Prompt templates and bins.")
    cfg_dropout: float = Field(
        0.0, ge=0.0, le=1.0, description="Training probability of dropping the advantage (null prompt)."
    )
    time_beta: tuple[float, float] = Field((1.5, 1.0), description="Beta(a, b) of the training time t.")
    time_min_period: float = Field(4e-3, gt=0, description="Sin-cos time embedding minimum period.")
    time_max_period: float = Field(4.0, gt=0, description="Sin-cos time embedding maximum period.")
    num_steps: int = Field(10, gt=0, description="Default number of Euler steps at sampling.")

    @model_validator(mode="after")
    def _check(self) -> VLAConfig:
        for field in ("depth", "num_heads", "num_kv_heads", "head_dim"):
            a, b = getattr(self.vlm, field), getattr(self.expert, field)
            if a != b:
                raise ValueError(f"vlm.{field} ({a}) and expert.{field} ({b}) must be equal for joint attention")
        if self.env_action_dim > self.action_dim:
            raise ValueError(f"env_action_dim ({self.env_action_dim}) exceeds action_dim ({self.action_dim})")
        if self.continuous_state_input and self.state_dim > self.action_dim:
            raise ValueError(
                f"continuous_state_input pads the state to action_dim; state_dim ({self.state_dim}) exceeds "
                f"action_dim ({self.action_dim})"
            )
        if not self.camera_names:
            raise ValueError("camera_names must name at least one view")
        return self

    @property
    def num_image_tokens(self) -> int:
        """Prefix tokens coming from images (all views)."""
        return len(self.camera_names) * self.vision.num_patches

    @property
    def prefix_len(self) -> int:
        """Total prefix length: image tokens + prompt tokens."""
        return self.num_image_tokens + self.max_token_len


def _tiny() -> VLAConfig:
    return VLAConfig(
        name="tiny",
        vision=VisionConfig(image_size=(32, 32), patch_size=8, width=32, depth=2, mlp_dim=64, num_heads=2),
        vlm=GemmaConfig(width=32, depth=2, mlp_dim=64, num_heads=2, num_kv_heads=1, head_dim=16),
        expert=GemmaConfig(width=24, depth=2, mlp_dim=48, num_heads=2, num_kv_heads=1, head_dim=16),
        vocab_size=1024,
        action_dim=16,
        action_horizon=8,
        max_token_len=64,
    )


def _cpu() -> VLAConfig:
    return VLAConfig(
        name="cpu",
        vision=VisionConfig(image_size=(96, 128), patch_size=16, width=128, depth=4, mlp_dim=512, num_heads=4),
        vlm=GemmaConfig(width=192, depth=4, mlp_dim=768, num_heads=4, num_kv_heads=1, head_dim=48),
        expert=GemmaConfig(width=128, depth=4, mlp_dim=512, num_heads=4, num_kv_heads=1, head_dim=48),
        vocab_size=1024,
        action_dim=14,
        action_horizon=50,
        max_token_len=72,
    )


def _pi05() -> VLAConfig:
    return VLAConfig(name="pi05")


VLA_PRESETS = {"tiny": _tiny, "cpu": _cpu, "pi05": _pi05}
DEFAULT_PRESET: Literal["cpu"] = "cpu"


class UnknownPresetError(KeyError):
    """A preset name that does not exist; the message suggests the closest names."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


def resolve_preset(name: str, choices: list[str] | tuple[str, ...], kind: str = "preset") -> str:
    """Return ``name`` if it is one of ``choices``, else raise with a did-you-mean hint."""
    if name in choices:
        return name
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.4)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownPresetError(f"unknown {kind} {name!r}; expected one of {sorted(choices)}.{hint}")


def get_vla_config(name: str = DEFAULT_PRESET, **overrides: object) -> VLAConfig:
    """Build a named preset, optionally overriding top-level fields (``action_horizon=10``)."""
    cfg = VLA_PRESETS[resolve_preset(name, tuple(VLA_PRESETS), "VLA preset")]()
    if overrides:
        cfg = VLAConfig.model_validate({**cfg.model_dump(), **overrides})
    return cfg

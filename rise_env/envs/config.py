"""Configuration of the imagination environments."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ImaginationEnvConfig(BaseModel):
    """How imagined episodes are run; every field can be overridden in ``gymnasium.make``."""

    model_config = ConfigDict(extra="forbid")

    max_chunks: int = Field(
        2, ge=1, description="Imagined chunks per episode before truncation (the paper chains at most two)."
    )
    normalized_actions: bool = Field(
        False,
        description="Accept actions in [-1, 1] (mapped linearly onto the joint limits) instead of absolute joints.",
    )
    clip_actions: bool = Field(
        False, description="Clip out-of-limit actions (count reported in info) instead of refusing the chunk."
    )
    autoreset_mode: Literal["NextStep", "SameStep", "Disabled"] = Field(
        "NextStep", description="Gymnasium AutoresetMode of the vector env (SB3 needs SameStep)."
    )
    num_samples: int = Field(
        1,
        ge=1,
        description="Imagined samples per chunk (different noise seeds). With more than one, their disagreement "
        "is reported per slot in info['disagreement'].",
    )
    disagreement_threshold: float | None = Field(
        None,
        gt=0,
        description="Truncate a slot whose sample disagreement (mean per-pixel std, 0-1 scale) exceeds this.",
    )
    render_mode: Literal["rgb_array"] | None = Field(None, description="'rgb_array' to enable render().")

"""Prompt construction: task text, 256-bin state tokens and the advantage bin.

With ``discrete_state_input`` (π0.5) the conditioned prompt is
``"Task: {task}, State: {s0 s1 ... s13}, Advantage: {bin};\\nAction: "`` and the null prompt
(bin 0) is openpi's native ``"Task: {task}, State: {...};\\nAction: "``. The state must already be
normalised to [-1, 1] (quantile normalisation); it is clipped to [-1, 1] and digitised into
``np.digitize(s, linspace(-1, 1, 257)[:-1]) - 1`` ∈ 0..255. Prompts start with BOS and are
right-padded to ``max_token_len`` with a boolean mask (openpi ``PaligemmaTokenizer``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from rise_env.models.vla.config import PromptConfig
from rise_env.models.vla.tokenizer import Tokenizer
from rise_env.spec.advantage import advantage_to_bin  # noqa: F401  (re-exported: the bins of the prompt)


def clean_task(task: str) -> str:
    """openpi's prompt cleaning: strip, ``_`` → space, newline → space."""
    return task.strip().replace("_", " ").replace("\n", " ")


def discretize_state(state: np.ndarray | Tensor, bins: int = 256) -> np.ndarray:
    """Normalised state (..., S) → ints in 0..bins-1 (values outside [-1, 1] are clipped first)."""
    s = state.detach().cpu().numpy() if isinstance(state, Tensor) else np.asarray(state)
    s = np.clip(s.astype(np.float64), -1.0, 1.0)
    return np.digitize(s, np.linspace(-1.0, 1.0, bins + 1)[:-1]) - 1


class PromptBuilder:
    """Formats and tokenises prompts for a batch."""

    def __init__(self, cfg: PromptConfig, tokenizer: Tokenizer, max_len: int, discrete_state: bool = True) -> None:
        self.cfg, self.tokenizer, self.max_len, self.discrete_state = cfg, tokenizer, max_len, discrete_state

    def text(self, task: str, bin_: int, state_tokens: Sequence[int] | None = None) -> str:
        """One prompt string; ``bin_`` 0 selects the null (unconditional) template."""
        if not 0 <= int(bin_) <= self.cfg.num_bins:
            raise ValueError(f"advantage bin must be in 0..{self.cfg.num_bins} (0 = none); got {bin_}")
        fields = {"task": clean_task(task), "bin": int(bin_)}
        if self.discrete_state:
            if state_tokens is None:
                raise ValueError("discrete_state_input is on: the prompt needs the normalised state")
            fields["state"] = " ".join(str(int(s)) for s in state_tokens)
            template = self.cfg.template if bin_ else self.cfg.null_template
        else:
            template = self.cfg.template_no_state if bin_ else self.cfg.null_template_no_state
        return template.format(**fields)

    def __call__(
        self,
        tasks: Sequence[str],
        bins: Tensor | np.ndarray | Sequence[int],
        state: Tensor | np.ndarray | None = None,
        device: torch.device | str = "cpu",
    ) -> tuple[Tensor, Tensor]:
        """tasks: B strings, bins: (B,) ints 0..K, state: (B, S) normalised → tokens (B, T) long, mask (B, T)."""
        bins = np.asarray(bins.detach().cpu() if isinstance(bins, Tensor) else bins).reshape(-1)
        if len(tasks) != len(bins):
            raise ValueError(f"{len(tasks)} tasks but {len(bins)} advantage bins")
        state_tok = None
        if self.discrete_state:
            if state is None:
                raise ValueError("discrete_state_input is on: pass the normalised state (B, S)")
            state_tok = discretize_state(state, self.cfg.state_bins)
            if state_tok.ndim != 2 or state_tok.shape[0] != len(tasks):
                raise ValueError(f"state must be (B={len(tasks)}, S); got {tuple(state_tok.shape)}")
        tokens = np.full((len(tasks), self.max_len), self.tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(tasks), self.max_len), dtype=bool)
        for i, (task, b) in enumerate(zip(tasks, bins, strict=True)):
            ids = self.tokenizer.encode(
                self.text(task, int(b), None if state_tok is None else state_tok[i]), add_bos=True
            )
            if len(ids) > self.max_len:
                warnings.warn(f"prompt of {len(ids)} tokens truncated to max_token_len={self.max_len}", stacklevel=2)
                ids = ids[: self.max_len]
            tokens[i, : len(ids)] = ids
            mask[i, : len(ids)] = True
        return torch.from_numpy(tokens).to(device), torch.from_numpy(mask).to(device)

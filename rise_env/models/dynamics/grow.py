"""Depth up-scaling: a trained dynamics model with more transformer blocks, unchanged at step 0.

A small transformer that underfits can be given capacity without losing what it learned: the new
LTX blocks are appended after the trained ones, and each of their three residual branches
(self-attention, cross-attention, feed-forward) ends in a zero-initialised projection, so every new
block is the identity until training moves it (the zero-initialisation of ControlNet and of
depth up-scaling). The gradient reaches those projections at once, and through them the rest of
the block from the second step on.

Appending, rather than interleaving, keeps every trained block at its index, hence its cross-view
attention (blocks ``idx % cross_view_every == 0``).
"""

from __future__ import annotations

import torch

from rise_env.models.dynamics.checkpoint import load_checked
from rise_env.models.dynamics.model import DynamicsModel

# The last projection of each residual branch of an LTX block, zeroed in an appended block.
BRANCH_OUTPUTS = ("attn1.to_out.0", "attn2.to_out.0", "ff.net.2")


def deepened(model: DynamicsModel, extra_layers: int) -> DynamicsModel:
    """A copy of ``model`` whose transformer has ``extra_layers`` more blocks after its own.

    The copy (float32, on the CPU) predicts exactly what ``model`` predicts until it is trained; its
    config's ``transformer.num_layers`` is ``model``'s plus ``extra_layers``.

    Raises:
        ValueError: ``extra_layers`` is not a positive integer.
    """
    if not isinstance(extra_layers, int) or extra_layers < 1:
        raise ValueError(f"extra_layers must be a positive integer, got {extra_layers!r}")
    cfg = model.config
    layers = cfg.transformer.num_layers
    transformer = cfg.transformer.model_copy(update={"num_layers": layers + extra_layers})
    grown = DynamicsModel(cfg.model_copy(update={"transformer": transformer}))
    report = load_checked(grown, model.state_dict(), strict=False)
    appended = tuple(f"transformer.transformer_blocks.{i}." for i in range(layers, layers + extra_layers))
    foreign = [k for k in report.missing if not k.startswith(appended)]
    if foreign or report.unexpected:  # only the new blocks may be missing
        raise RuntimeError(f"deepening left trained weights behind: missing {foreign[:8]}, {report}")
    with torch.no_grad():
        for block in grown.transformer.transformer_blocks[layers:]:
            for name in BRANCH_OUTPUTS:
                proj = block.get_submodule(name)
                proj.weight.zero_()
                proj.bias.zero_()
    return grown

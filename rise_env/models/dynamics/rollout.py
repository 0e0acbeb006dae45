"""Multi-chunk imagination with GE-style sparse memory.

After each imagined chunk the next memory is ``n`` frames spread evenly (``linspace(0, T-1, n)``)
over everything seen so far (the real history, then every imagined frame), re-encoded by the VAE.
That keeps long-horizon context with a fixed memory size, as Genie Envisioner does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rise_env.models.dynamics.model import DynamicsModel


def sparse_memory_indices(total: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(total)``, first and last included (repeats if total < n)."""
    if total <= 0 or n <= 0:
        raise ValueError(f"total and n must be positive, got total={total}, n={n}")
    if n == 1:
        return [total - 1]
    return [round(i * (total - 1) / (n - 1)) for i in range(n)]


def select_memory(frames: torch.Tensor, n: int) -> torch.Tensor:
    """``(B, T, V, H, W, 3)`` -> ``(B, n, V, H, W, 3)`` sparse memory frames (GE's linspace rule)."""
    idx = torch.tensor(sparse_memory_indices(frames.shape[1], n), device=frames.device)
    return frames.index_select(1, idx)


@torch.no_grad()
def imagine_rollout(
    model: DynamicsModel,
    history_frames: torch.Tensor,
    state: torch.Tensor,
    action_chunks: torch.Tensor,
    steps: int | None = None,
    seeds: Sequence[int] | None = None,
    task_index: torch.Tensor | None = None,
    include_history: bool = True,
) -> torch.Tensor:
    """Chain ``N`` imagined chunks.

    Args:
        history_frames: ``(B, 4, V, H, W, 3)`` uint8 real memory frames.
        state: ``(B, 14)`` state at the last real frame; later chunks start from the previous chunk's
            last commanded action (absolute joint targets), the best state estimate in imagination.
        action_chunks: ``(B, N, 50, 14)`` absolute actions, one chunk per step.
        seeds: one per sample; each sample's generator is reused across chunks, so a rollout is
            reproducible and independent of the batch it runs in.
        include_history: the memory pool starts with the real history (else imagined frames only,
            once there are any).

    Returns:
        ``(B, N * 25, V, H, W, 3)`` uint8 imagined frames.
    """
    if action_chunks.ndim != 4:
        raise ValueError(f"action_chunks must be (B, N, H, A), got shape {tuple(action_chunks.shape)}")
    b, n_chunks = action_chunks.shape[:2]
    gens = None if seeds is None else [torch.Generator().manual_seed(int(s)) for s in seeds]
    if gens is not None and len(gens) != b:
        raise ValueError(f"got {len(gens)} seeds for a batch of {b}")
    m = model.config.memory_frames
    memory, cur_state = history_frames, state
    imagined: list[torch.Tensor] = []
    for c in range(n_chunks):
        out = model.imagine(memory, cur_state, action_chunks[:, c], steps=steps, generators=gens, task_index=task_index)
        imagined.append(out.to(history_frames.device))
        pool = torch.cat(([history_frames] if include_history else []) + imagined, dim=1)
        memory = select_memory(pool, m)
        cur_state = action_chunks[:, c, -1]
    return torch.cat(imagined, dim=1)

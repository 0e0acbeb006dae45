"""What an imagination environment needs from a world model: imagine a chunk and score it.

`CompositionalWorldModel` (dynamics + value) implements this; any object with the same
attributes and method (e.g. a served or remote model) plugs into `ImaginationVectorEnv`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from rise_env.spec import RobotSpec


@dataclass
class ImaginedChunk:
    """One imagined chunk per batch row.

    Attributes:
        frames: (B, K, V, H, W, 3) uint8 imagined frames, views in ``robot.camera_keys`` order.
        values: (B, K) float32 value of every imagined frame.
        value_t0: (B,) float32 value of the frame the chunk started from.
        advantage: (B,) float32 chunk advantage (paper Eq. 2, scaled and clamped to [-1, 1]).
        advantage_bin: (B,) int64 bin 1..n_bins of the advantage.
    """

    frames: np.ndarray
    values: np.ndarray
    value_t0: np.ndarray
    advantage: np.ndarray
    advantage_bin: np.ndarray

    def __post_init__(self) -> None:
        b = self.frames.shape[0]
        if self.frames.ndim != 6 or self.frames.dtype != np.uint8:
            raise ValueError(f"frames must be (B, K, V, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}")
        k = self.frames.shape[1]
        for name, shape in (("values", (b, k)), ("value_t0", (b,)), ("advantage", (b,)), ("advantage_bin", (b,))):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {getattr(self, name).shape}")


@runtime_checkable
class ChunkWorldModel(Protocol):
    """A batched world model the imagination env can step.

    Attributes:
        robot: cameras (order and resolution) and action limits of the imagined robot.
        chunk_size: control steps per action chunk (H, e.g. 50 at 30 Hz).
        num_memory_frames: memory frames the dynamics model conditions on (M, e.g. 4).
        task_names: instruction of each task index.
    """

    robot: RobotSpec
    chunk_size: int
    num_memory_frames: int
    task_names: list[str]

    def imagine_chunk(
        self,
        memory: np.ndarray,
        state: np.ndarray,
        actions: np.ndarray,
        task_index: np.ndarray,
        seeds: np.ndarray,
    ) -> ImaginedChunk:
        """Imagine and score one chunk for each batch row.

        Args:
            memory: (B, M, V, H, W, 3) uint8 memory frames, the newest last.
            state: (B, 14) float32 joint state at the start of the chunk.
            actions: (B, H, 14) float32 absolute joint targets.
            task_index: (B,) int64 task of each row.
            seeds: (B,) int64 noise seed of each row (same seed + inputs → same chunk).
        """
        ...

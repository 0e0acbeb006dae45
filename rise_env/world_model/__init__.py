"""The Compositional World Model: imagine a chunk (dynamics), score it (value), turn it into an advantage."""

from rise_env.spec.advantage import advantage_to_bin, bin_center, chunk_advantage
from rise_env.world_model.memory import sparse_memory_indices
from rise_env.world_model.protocol import ChunkWorldModel, ImaginedChunk

__all__ = [
    "ChunkWorldModel",
    "ImaginedChunk",
    "advantage_to_bin",
    "bin_center",
    "chunk_advantage",
    "sparse_memory_indices",
]

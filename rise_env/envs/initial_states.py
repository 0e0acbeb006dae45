"""Initial states of imagined episodes: memory frames + joint state + task, drawn from real data."""

from __future__ import annotations

import json
import lzma
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from rise_env.utils.atomic import atomic_directory

TENSORS_FILE = "initial_states.safetensors"
CONFIG_FILE = "config.json"
OPTIONAL_INDEX_FIELDS = ("episode_index", "frame_index")
MEMORY_LZMA = "memory_lzma"


@dataclass
class InitialStateBank:
    """A set of S start points for imagination.

    Attributes:
        memory: (S, M, V, H, W, 3) uint8 memory frames, newest last.
        state: (S, 14) float32 joint state at the newest memory frame.
        task_index: (S,) int64 task of each start point.
        task_names: instruction of each task index.
        camera_keys: view order of the V axis.
        actions: optional (S, K, D) float32 recorded actions that followed each start point (replay,
            expert-vs-rollout advantage checks).
        episode_index: optional (S,) int64 source episode of each start point.
        frame_index: optional (S,) int64 frame (within its episode) of the newest memory frame.
    """

    memory: np.ndarray
    state: np.ndarray
    task_index: np.ndarray
    task_names: list[str]
    camera_keys: list[str]
    actions: np.ndarray | None = None
    episode_index: np.ndarray | None = None
    frame_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        s = self.memory.shape[0]
        if self.memory.ndim != 6 or self.memory.dtype != np.uint8 or self.memory.shape[-1] != 3:
            raise ValueError(f"memory must be (S, M, V, H, W, 3) uint8, got {self.memory.shape} {self.memory.dtype}")
        if self.memory.shape[2] != len(self.camera_keys):
            raise ValueError(f"memory has {self.memory.shape[2]} views but camera_keys is {self.camera_keys}")
        if self.state.shape != (s, self.state.shape[-1]) or self.state.ndim != 2:
            raise ValueError(f"state must be (S={s}, D), got {self.state.shape}")
        if self.task_index.shape != (s,):
            raise ValueError(f"task_index must be (S={s},), got {self.task_index.shape}")
        if s == 0:
            raise ValueError("an initial-state bank needs at least one start point")
        if self.task_index.min() < 0 or self.task_index.max() >= len(self.task_names):
            raise ValueError(f"task_index must lie in [0, {len(self.task_names)}), got {self.task_index.tolist()}")
        self.state = self.state.astype(np.float32)
        self.task_index = self.task_index.astype(np.int64)
        if self.actions is not None:
            if self.actions.ndim != 3 or self.actions.shape[0] != s or self.actions.shape[2] != self.state.shape[1]:
                raise ValueError(f"actions must be (S={s}, K, D={self.state.shape[1]}), got {self.actions.shape}")
            self.actions = self.actions.astype(np.float32)
        for name in OPTIONAL_INDEX_FIELDS:
            value = getattr(self, name)
            if value is not None:
                if np.shape(value) != (s,):
                    raise ValueError(f"{name} must be (S={s},), got {np.shape(value)}")
                setattr(self, name, np.asarray(value, np.int64))

    def __len__(self) -> int:
        return self.memory.shape[0]

    def save(self, directory: str | os.PathLike, compress: bool = False) -> None:
        """Write ``initial_states.safetensors`` + ``config.json`` atomically (temp dir, then rename).

        ``compress`` stores the memory frames LZMA-compressed (~14x smaller for decoded video frames;
        what the bundled default uses); ``load`` reads either form.
        """
        with atomic_directory(directory, overwrite=True) as tmp:
            tensors = {"state": self.state, "task_index": self.task_index}
            if compress:
                packed = lzma.compress(np.ascontiguousarray(self.memory).tobytes(), preset=6)
                tensors[MEMORY_LZMA] = np.frombuffer(packed, np.uint8)
            else:
                tensors["memory"] = self.memory
            for name in ("actions", *OPTIONAL_INDEX_FIELDS):
                if getattr(self, name) is not None:
                    tensors[name] = getattr(self, name)
            # safetensors writes the raw buffer: a strided (non C-contiguous) array would be scrambled
            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp / TENSORS_FILE))
            config = {"task_names": self.task_names, "camera_keys": self.camera_keys, "num_states": len(self),
                      "memory_shape": list(self.memory.shape), "memory_encoding": "lzma" if compress else "raw"}
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2))

    @classmethod
    def load(cls, directory: str | os.PathLike) -> InitialStateBank:
        """Read a folder written by ``save`` (optional ``actions`` / indices when stored)."""
        directory = Path(directory)
        for name in (TENSORS_FILE, CONFIG_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"initial-state bank {directory} has no {name}")
        config = json.loads((directory / CONFIG_FILE).read_text())
        tensors = load_file(str(directory / TENSORS_FILE))
        if MEMORY_LZMA in tensors:
            shape = tuple(config["memory_shape"])
            raw = lzma.decompress(tensors[MEMORY_LZMA].tobytes())
            if len(raw) != int(np.prod(shape)):
                raise ValueError(f"{directory}: compressed memory holds {len(raw)} bytes, config says {shape}")
            memory = np.frombuffer(raw, np.uint8).reshape(shape).copy()
        elif "memory" in tensors:
            memory = tensors["memory"]
        else:
            raise ValueError(f"{directory / TENSORS_FILE} has neither 'memory' nor '{MEMORY_LZMA}'")
        return cls(
            memory=memory,
            state=tensors["state"],
            task_index=tensors["task_index"],
            task_names=list(config["task_names"]),
            camera_keys=list(config["camera_keys"]),
            actions=tensors.get("actions"),
            episode_index=tensors.get("episode_index"),
            frame_index=tensors.get("frame_index"),
        )

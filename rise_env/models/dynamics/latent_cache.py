"""Latents of training windows encoded once, so the transformer phase skips the frozen VAE encoder.

On 2 CPU cores encoding a batch of 8 ``cpu`` windows (4 memory frames and 25 future frames of
3 views each) takes about 1.0 s of a 1.3 s training step; reading cached latents takes a few ms.
The encoder is frozen in that phase and encodes posterior modes, so every epoch would recompute the
same latents.

Folder layout::

    DIR/cache.json   what was encoded: encoder fingerprint, windows, shapes, rows done so far
    DIR/memory.npy   (N, V, C, M, h, w) float16 memory latents, one row per window
    DIR/future.npy   (N, V, C, F, h, w) float16 future latents

Rows are filled in order and ``done`` in ``cache.json`` is advanced (atomically) only after they
are flushed, so an interrupted build resumes where it stopped. Latents are stored as float16
(relative rounding about 5e-4 of the normalised latents).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from rise_env.data import DynamicsWindowDataset
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.utils.atomic import atomic_write_json, read_json

META_NAME = "cache.json"
FORMAT = 1


def encoder_fingerprint(model: DynamicsModel) -> str:
    """sha256 of everything encoding depends on: the VAE config, its encoder weights and latent statistics.

    The decoder is left out, so a model whose decoder alone was tuned shares its parent's cache.
    """
    vae = model.codec.vae
    digest = hashlib.sha256(json.dumps(model.config.vae, sort_keys=True).encode())
    state = {f"encoder.{k}": v for k, v in vae.encoder.state_dict().items()}
    state["latents_mean"], state["latents_std"] = vae.latents_mean, vae.latents_std
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _windows_fingerprint(windows: DynamicsWindowDataset, ids: np.ndarray) -> str:
    """sha256 of the (episode, frame) of every cached window, the window shape and the dataset's fingerprint."""
    digest = hashlib.sha256(windows.cfg.model_dump_json().encode())
    digest.update(windows.reader.fingerprint.encode())
    digest.update(np.stack([windows.sample_episode_index[ids], windows.sample_frame_index[ids]]).tobytes())
    return digest.hexdigest()


def _shapes(model: DynamicsModel, rows: int) -> dict[str, list[int]]:
    c = model.config
    h, w = c.latent_hw
    return {
        "memory": [rows, c.views, c.latent_channels, c.memory_frames, h, w],
        "future": [rows, c.views, c.latent_channels, c.future_latent_frames, h, w],
    }


def build_latent_cache(
    directory: str | Path,
    model: DynamicsModel,
    windows: DynamicsWindowDataset,
    ids: np.ndarray,
    batch_size: int = 16,
    progress: bool = True,
) -> CachedLatentWindows:
    """Encode windows ``ids`` (sorted, unique) of ``windows`` into ``directory``, or resume or reuse it.

    Raises:
        ValueError: ``directory`` holds a cache of another encoder, other windows or another format
            (named), or ``ids`` is not sorted and unique.
    """
    directory = Path(directory)
    ids = np.asarray(ids, np.int64)
    if len(ids) == 0 or np.any(np.diff(ids) <= 0):
        raise ValueError(f"window ids must be non-empty, sorted and unique, got {len(ids)} ids")
    want = {
        "format": FORMAT,
        "encoder": encoder_fingerprint(model),
        "windows": _windows_fingerprint(windows, ids),
        "shapes": _shapes(model, len(ids)),
        "dtype": "float16",
    }
    meta_path = directory / META_NAME
    if meta_path.is_file():
        meta = read_json(meta_path)
        differ = [k for k in want if meta.get(k) != want[k]]
        if differ:
            raise ValueError(
                f"{directory} caches latents of another {' and '.join(differ)} than this run needs; "
                "give another --latent-cache folder or delete this one"
            )
        done = int(meta["done"])
    else:
        directory.mkdir(parents=True, exist_ok=True)
        for name, shape in want["shapes"].items():
            np.lib.format.open_memmap(directory / f"{name}.npy", mode="w+", dtype=np.float16, shape=tuple(shape))
        done = 0
        atomic_write_json(meta_path, {**want, "done": done}, indent=2)
    if done < len(ids):
        _encode_rows(directory, model, windows, ids, done, batch_size, want, progress)
    return CachedLatentWindows(directory, windows, ids)


@torch.no_grad()
def _encode_rows(
    directory: Path,
    model: DynamicsModel,
    windows: DynamicsWindowDataset,
    ids: np.ndarray,
    done: int,
    batch_size: int,
    meta: dict,
    progress: bool,
) -> None:
    """Encode rows ``done..len(ids)-1`` in batches, advancing ``meta["done"]`` after each flushed batch."""
    arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r+") for name in ("memory", "future")}
    model.codec.eval()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(ids), initial=done, desc="encoding latents")
    for start in range(done, len(ids), batch_size):
        rows = ids[start : start + batch_size]
        items = [windows[int(i)] for i in rows]
        latents = model.encode_batch(
            {k: torch.stack([it[k] for it in items]) for k in ("memory_frames", "future_frames")}
        )
        for name, array in arrays.items():
            array[start : start + len(rows)] = latents[f"{name}_latents"].cpu().numpy().astype(np.float16)
            array.flush()
        atomic_write_json(directory / META_NAME, {**meta, "done": start + len(rows)}, indent=2)
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()


class CachedLatentWindows(Dataset):
    """The windows of a complete latent cache, indexed by *window id* like ``windows``.

    Items are ``windows.conditioning(i)`` plus ``memory_latents`` ``(V, C, M, h, w)`` and
    ``future_latents`` ``(V, C, F, h, w)`` float32, which :meth:`DynamicsModel.loss` takes in place
    of frames.
    """

    def __init__(self, directory: str | Path, windows: DynamicsWindowDataset, ids: np.ndarray) -> None:
        directory = Path(directory)
        meta = read_json(directory / META_NAME)
        if int(meta["done"]) != len(ids):
            raise ValueError(f"{directory} holds {meta['done']} of {len(ids)} windows; build it first")
        self.directory, self.windows, self.ids = directory, windows, np.asarray(ids, np.int64)
        # per window id, as on ``windows``, for the task-centric sampler
        self.sample_episode_index, self.sample_task_index = windows.sample_episode_index, windows.sample_task_index
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def memory(self) -> np.ndarray:
        return self._open()[0]

    @property
    def future(self) -> np.ndarray:
        return self._open()[1]

    def _open(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:  # opened lazily, so DataLoader workers map the files instead of copying them
            self._arrays = tuple(np.load(self.directory / f"{n}.npy", mmap_mode="r") for n in ("memory", "future"))
        return self._arrays

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_arrays": None}

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        row = int(np.searchsorted(self.ids, i))
        if row >= len(self.ids) or self.ids[row] != i:
            raise IndexError(f"window {i} is not in this latent cache ({len(self.ids)} windows)")
        return {
            **self.windows.conditioning(i),
            "memory_latents": torch.from_numpy(self.memory[row].astype(np.float32)),
            "future_latents": torch.from_numpy(self.future[row].astype(np.float32)),
        }

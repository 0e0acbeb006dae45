"""Dataset frames at a model's resolution: antialiased resizing and a per-episode memory-mapped cache.

A model that works below the recorded resolution (the ``cpu`` dynamics preset: 96x128 from 192x256
recordings) reads its frames through :class:`ResizedFrames`. With a cache directory, each episode is
decoded once, resized and written as one uint8 ``.npy`` ``(T, V, h, w, 3)``; later reads are
memory-mapped page reads instead of video decodes (a dynamics window is 29 frames x 3 views).
The cache folder records the dataset's fingerprint (``dataset.json``) and serves that collection
only: a dataset collected again at the same path is refused instead of read through stale frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rise_env.data.reader import LeRobotDatasetReader
from rise_env.utils.atomic import atomic_write_bytes, atomic_write_json, read_json

SOURCE_NAME = "dataset.json"  # in a cache folder: the fingerprint of the dataset its frames come from


def resize_frames(frames: np.ndarray, height: int, width: int, chunk: int = 256) -> np.ndarray:
    """uint8 (..., h, w, 3) → uint8 (..., height, width, 3), antialiased bilinear (no-op at size)."""
    if frames.shape[-3:-1] == (height, width):
        return frames
    import torch
    import torch.nn.functional as F

    lead = frames.shape[:-3]
    flat = frames.reshape(-1, *frames.shape[-3:])
    out = []
    for i in range(0, len(flat), chunk):
        x = torch.from_numpy(np.ascontiguousarray(flat[i : i + chunk])).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        out.append(x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    resized = np.concatenate(out) if out else np.zeros((0, height, width, 3), np.uint8)
    return resized.reshape(*lead, height, width, 3)


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` serialised as a ``.npy`` file (no pickle), for ``atomic_write_bytes``."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def claim_cache_dir(cache_dir: Path, reader: LeRobotDatasetReader) -> None:
    """Tie ``cache_dir`` to ``reader``'s collection: record its fingerprint in a new or empty folder,
    and refuse a folder that caches another collection or whose source is unknown.

    Raises:
        ValueError: naming the folder, both fingerprints and what to do.
    """
    source = cache_dir / SOURCE_NAME
    if source.is_file():
        cached = read_json(source).get("fingerprint")
        if cached != reader.fingerprint:
            raise ValueError(
                f"{cache_dir} caches frames of another collection (dataset fingerprint {str(cached)[:12]}..., "
                f"{reader.root} is {reader.fingerprint[:12]}...): delete the folder or choose another cache"
            )
        return
    if cache_dir.is_dir() and any(cache_dir.glob("*.npy")):
        raise ValueError(
            f"{cache_dir} holds cached frames but no {SOURCE_NAME}: they may come from another collection; "
            "delete the folder or choose another cache"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(source, {"dataset": str(reader.root), "fingerprint": reader.fingerprint})


class ResizedFrames:
    """``frames_at`` of a dataset reader, at ``size`` = (h, w) and optionally cached per episode.

    Args:
        reader: the dataset.
        size: (height, width) of the frames returned.
        cache_dir: folder of the per-episode ``.npy`` cache; ``None`` decodes and resizes on each read.
        cameras: views in the order returned (default: the dataset's); each must exist in it.
        resize: ``(T, H, W, 3) uint8, (h, w) -> (T, h, w, 3) uint8`` (default: antialiased
            :func:`resize_frames`; the policies' cache pads to keep the aspect ratio).
        resize_name: a short name of ``resize``, required with it and refused without it: it is part of the
            cache files' names, so that frames resized one way are never read back by a reader of the other.
    """

    def __init__(
        self,
        reader: LeRobotDatasetReader,
        size: tuple[int, int],
        cache_dir: str | Path | None = None,
        cameras: Sequence[str] | None = None,
        resize: Callable[[np.ndarray, tuple[int, int]], np.ndarray] | None = None,
        resize_name: str | None = None,
    ):
        if resize is not None and not (resize_name and resize_name.replace("-", "").isalnum()):
            raise ValueError(
                f"a custom resize needs a resize_name of letters, digits and '-' (it names the cache files), "
                f"got {resize_name!r}"
            )
        if resize is None and resize_name is not None:
            raise ValueError(
                f"resize_name={resize_name!r} names a custom resize, but no resize was given; pass resize too, "
                "or neither for the default antialiased resize"
            )
        self.reader, self.size = reader, (int(size[0]), int(size[1]))
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.cameras = tuple(reader.cameras if cameras is None else cameras)
        missing = [c for c in self.cameras if c not in reader.cameras]
        if missing:
            raise ValueError(f"{reader.root}: cameras {missing} are missing; the dataset has {reader.cameras}")
        self._views = [reader.cameras.index(c) for c in self.cameras]
        self.resize = resize or (lambda frames, hw: resize_frames(frames, *hw))
        self._name_suffix = f"_{resize_name}" if resize is not None else ""  # the default keeps plain names
        self._episodes: dict[int, np.ndarray] = {}
        if self.cache_dir is not None:
            claim_cache_dir(self.cache_dir, reader)

    def cache_path(self, ep: int) -> Path:
        """Cache file of episode ``ep`` (named by episode, cameras, size and a custom resize's name)."""
        if self.cache_dir is None:
            raise ValueError("this ResizedFrames has no cache_dir")
        h, w = self.size
        return self.cache_dir / f"episode_{ep:06d}_{'-'.join(self.cameras)}_{h}x{w}{self._name_suffix}.npy"

    def episode(self, ep: int) -> np.ndarray:
        """``(T, V, h, w, 3)`` uint8 frames of episode ``ep`` from the cache (built on first use)."""
        if ep in self._episodes:
            return self._episodes[ep]
        path, length = self.cache_path(ep), self.reader.episodes[ep].length
        if not path.is_file():
            frames = self.reader.episode_frames(ep)
            views = np.stack([self.resize(frames[c], self.size) for c in self.cameras], axis=1)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, npy_bytes(views))
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        want = (length, len(self.cameras), *self.size, 3)
        if array.shape != want or array.dtype != np.uint8:
            raise ValueError(
                f"{path}: cached frames are {array.dtype} {array.shape}, expected uint8 {want}; "
                "delete the file to rebuild it"
            )
        self._episodes[ep] = array
        return array

    def frames_at(self, ep: int, indices: np.ndarray) -> np.ndarray:
        """Frames ``indices`` of episode ``ep``: ``(n, V, h, w, 3)`` uint8, a fresh array."""
        if self.cache_dir is None:
            frames = self.reader.frames_at(ep, indices)[:, self._views]
            return np.stack([self.resize(frames[:, v], self.size) for v in range(len(self.cameras))], axis=1)
        idx = np.asarray(indices, np.int64)
        length = self.reader.episodes[ep].length
        if idx.size and (idx.min() < 0 or idx.max() >= length):
            raise IndexError(f"frame indices must be in [0, {length}) for episode {ep}, got {idx.min()}..{idx.max()}")
        return np.array(self.episode(ep)[idx])

    def prepare(self, episodes: list[int], progress: bool = True) -> None:
        """Fill the cache for ``episodes`` (one decode each); a no-op without a cache."""
        if self.cache_dir is None:
            return
        for ep in tqdm(episodes, desc=f"caching frames at {self.size[0]}x{self.size[1]}", disable=not progress):
            self.episode(int(ep))


def frames_at_size(
    reader: LeRobotDatasetReader, size: tuple[int, int], cache_dir: str | Path | None = None
) -> ResizedFrames | None:
    """A :class:`ResizedFrames` when ``size`` differs from the dataset's resolution, else ``None`` (use the reader)."""
    if reader.resolution == tuple(size):
        return None
    return ResizedFrames(reader, size, cache_dir)

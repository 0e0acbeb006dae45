"""Crash-safe writes: write to a temporary sibling, flush to disk, then rename.

A reader (or a re-run after ``kill -9``) only ever sees the old or the new version of a file or
directory, never a partly written one. This is the one place the project does it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def _read_umask() -> int:
    """The process umask, read once at import (setting it to read it back is not thread-safe later)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()


def default_mode(is_dir: bool) -> int:
    """The permission bits ``mkdir`` / ``open`` would give a new directory / file under the umask."""
    return (0o777 if is_dir else 0o666) & ~UMASK


def grant_default_modes(path: Path) -> None:
    """Give ``path`` (a file, or a directory and everything under it) the modes a plain ``mkdir`` / ``open``
    would, keeping files' execute bits: temporary directories are made 0700 and safetensors writes its files
    0600, which would leave models unreadable to the other users of a shared machine."""
    path = Path(path)
    if path.is_symlink():
        return
    if path.is_dir():
        os.chmod(path, default_mode(True))
        for child in path.iterdir():
            grant_default_modes(child)
    else:
        os.chmod(path, default_mode(False) | (path.stat().st_mode & 0o111 & default_mode(True)))


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (after a rename or create) to disk; no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush one file's content to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` (inclusive) to disk."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            fsync_file(Path(dirpath) / name)
        fsync_dir(Path(dirpath))


def tmp_sibling(path: Path, tag: str = "tmp", suffix: str = "") -> Path:
    """A unique hidden name next to ``path`` (same directory, so a rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp_path)`` and rename the result onto ``path`` once it is complete and synced.

    The temporary name keeps ``path``'s suffix, so writers that pick a format from it still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_sibling(path, suffix=path.suffix)
    try:
        write(tmp)
        grant_default_modes(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 4, sort_keys: bool = False) -> None:
    """Write ``obj`` as indented UTF-8 JSON to ``path`` atomically (NaN refused)."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write_text(path, text)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file in the error if it is missing or malformed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"expected JSON file {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None


def rmtree(path: str | os.PathLike) -> None:
    """Remove a directory tree if it exists."""
    if Path(path).exists():
        shutil.rmtree(path)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Build a directory in a temp sibling and move it to ``path`` only if the block succeeds.

    Example:
        >>> with atomic_directory(out_dir) as tmp:          # doctest: +SKIP
        ...     (tmp / "config.json").write_text("{}")
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        grant_default_modes(tmp)
        fsync_tree(tmp)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "previous")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""Byte-reproducible safetensors files.

safetensors (0.8) writes a file's ``__metadata__`` from a hash map, so two saves of the same tensors with two
or more metadata keys can order them differently: same tensors, other bytes, another sha256. A bundle's
manifest could then not tell a faithful rebuild from a changed one. ``sort_metadata`` rewrites the header
in place with the metadata keys sorted; its length, the tensors and their offsets stay as they were.
``save_sorted`` saves and sorts.
"""

from __future__ import annotations

import json
import os
import struct

HEADER_SIZE_BYTES = 8  # little-endian u64: the JSON header's length, then the header, then the data


def save_sorted(tensors: dict, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """``safetensors.torch.save_file`` with the metadata keys sorted: the same tensors give the same bytes."""
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=metadata)
    sort_metadata(path)


def sort_metadata(path: str | os.PathLike) -> None:
    """Sort the ``__metadata__`` keys of the safetensors file at ``path`` in place (no-op with fewer than 2).

    Raises:
        ValueError: the file's header is not safetensors JSON, or sorted it would not fit its length.
    """
    with open(path, "r+b") as f:
        (size,) = struct.unpack("<Q", f.read(HEADER_SIZE_BYTES))
        raw = f.read(size)
        try:
            header = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a safetensors header ({err})") from None
        metadata = header.get("__metadata__") or {}
        if len(metadata) < 2:
            return
        header["__metadata__"] = dict(sorted(metadata.items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(text) > size:
            raise ValueError(f"{path}: the header with sorted metadata takes {len(text)} bytes, not {size}")
        f.seek(HEADER_SIZE_BYTES)
        f.write(text.ljust(size, b" "))  # safetensors pads headers with spaces

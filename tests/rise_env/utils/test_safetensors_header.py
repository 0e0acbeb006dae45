"""Saving the same tensors and metadata gives the same bytes, whatever order safetensors writes the keys in."""

import hashlib
import json
import struct

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import save_file

from rise_env.models.dynamics.checkpoint import write_safetensors
from rise_env.utils.safetensors_header import sort_metadata

METADATA = {"preset": "cpu", "format": "pt", "author": "rise"}


def _header(path):
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + size])


def test_sorted_saves_are_byte_identical_and_load_the_same(tmp_path):
    tensors = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.ones(5, np.float16)}
    digests = set()
    for i in range(8):  # 3 keys: 6 orders; 8 unsorted saves would almost surely not all agree
        path = tmp_path / f"{i}.safetensors"
        save_file(tensors, str(path), metadata=METADATA)
        sort_metadata(path)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
        assert list(_header(path)["__metadata__"]) == ["author", "format", "preset"]
        with safe_open(str(path), framework="np") as f:
            assert f.metadata() == METADATA
            np.testing.assert_array_equal(f.get_tensor("b"), tensors["b"])
    assert len(digests) == 1


def test_model_writer_sorts_and_few_keys_are_left_alone(tmp_path):
    state = {"w": torch.randn(3, 4)}
    paths = [tmp_path / f"{i}.safetensors" for i in range(6)]
    for p in paths:
        write_safetensors(p, state, metadata=METADATA)
    assert len({p.read_bytes() for p in paths}) == 1
    single = tmp_path / "single.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(single), metadata={"format": "pt"})
    before = single.read_bytes()
    sort_metadata(single)
    assert single.read_bytes() == before


def test_a_file_that_is_not_safetensors_is_named(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{[")
    with pytest.raises(ValueError, match="bad.safetensors: not a safetensors header"):
        sort_metadata(bad)

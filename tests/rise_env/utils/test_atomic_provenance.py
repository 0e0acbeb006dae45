"""Atomic writes never leave partial files; result files carry provenance."""

import json

import pytest

from rise_env.utils import atomic_directory, atomic_write_text, write_result_json


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a" / "result.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_failed_directory_build_leaves_nothing(tmp_path):
    out = tmp_path / "ckpt"
    with pytest.raises(RuntimeError):
        with atomic_directory(out) as tmp:
            (tmp / "model.safetensors").write_bytes(b"partial")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_directory_overwrite_is_all_or_nothing(tmp_path):
    out = tmp_path / "ckpt"
    with atomic_directory(out) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        with atomic_directory(out):
            pass
    with pytest.raises(RuntimeError):
        with atomic_directory(out, overwrite=True) as tmp:
            (tmp / "v").write_text("2")
            raise RuntimeError
    assert (out / "v").read_text() == "1"
    with atomic_directory(out, overwrite=True) as tmp:
        (tmp / "v").write_text("2")
    assert (out / "v").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_written_models_get_the_umask_modes_not_private_ones(tmp_path, monkeypatch):
    """mkdtemp makes 0700 and safetensors writes 0600; a saved model must be readable like any new file."""
    import numpy as np
    from safetensors.numpy import save_file

    from rise_env.utils import atomic
    from rise_env.utils.atomic import atomic_write

    monkeypatch.setattr(atomic, "UMASK", 0o027)
    out = tmp_path / "model"
    with atomic_directory(out) as tmp:
        (tmp / "sub").mkdir(mode=0o700)
        save_file({"w": np.zeros(3, np.float32)}, str(tmp / "sub" / "model.safetensors"))
        (tmp / "run.sh").write_text("#!/bin/sh\n")
        (tmp / "run.sh").chmod(0o700)
    modes = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777 for p in [out, *out.rglob("*")]}
    assert modes == {"model": 0o750, "model/sub": 0o750, "model/sub/model.safetensors": 0o640, "model/run.sh": 0o740}
    single = tmp_path / "single.safetensors"
    atomic_write(single, lambda t: save_file({"w": np.zeros(3, np.float32)}, str(t)))
    assert single.stat().st_mode & 0o777 == 0o640


def test_result_json_has_common_keys(tmp_path):
    payload = write_result_json(tmp_path / "r.json", {"success_rate": 0.5}, argv=["python", "bench.py", "--n", "3"])
    loaded = json.loads((tmp_path / "r.json").read_text())
    assert loaded == payload
    assert loaded["command"] == "python bench.py --n 3" and loaded["success_rate"] == 0.5
    assert {"git_commit", "date", "machine"} <= set(loaded) and loaded["machine"]["cores"] >= 1

"""Manifests: round trip, tampering, missing and extra files, and the missing-default message."""

import json

import pytest

from rise_env.assets import (
    MANIFEST_FILE,
    AssetChecksumError,
    AssetNotAvailableError,
    default_asset_dir,
    read_manifest,
    sha256_file,
    verify_manifest,
    write_manifest,
)
from rise_env.assets import manifest as manifest_module


@pytest.fixture
def asset_dir(tmp_path):
    root = tmp_path / "brick_sorting"
    (root / "world_model" / "dynamics").mkdir(parents=True)
    (root / "world_model" / "dynamics" / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    (root / "world_model" / "world_model.json").write_text('{"task_names": ["sort"]}')
    (root / "initial_states").mkdir()
    (root / "initial_states" / "config.json").write_text("{}")
    return root


def test_round_trip(asset_dir):
    written = write_manifest(asset_dir, "python -m rise_env.assets.build ...", data={"episodes": [0]},
                             metrics={"psnr": 21.5}, created="2025-01-01T00:00:00+00:00")
    manifest = verify_manifest(asset_dir)
    assert manifest == written == read_manifest(asset_dir)
    paths = [f["path"] for f in manifest["files"]]
    assert paths == sorted(paths) and "world_model/dynamics/model.safetensors" in paths and MANIFEST_FILE not in paths
    entry = next(f for f in manifest["files"] if f["path"].endswith("model.safetensors"))
    assert entry["size"] == 1024 and entry["sha256"] == sha256_file(asset_dir / entry["path"])
    assert manifest["metrics"] == {"psnr": 21.5} and manifest["data"] == {"episodes": [0]}
    assert manifest["command"].startswith("python -m rise_env.assets.build")
    assert [p.name for p in asset_dir.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_flipped_byte_names_the_file_and_both_hashes(asset_dir):
    write_manifest(asset_dir, "cmd")
    weights = asset_dir / "world_model" / "dynamics" / "model.safetensors"
    expected = sha256_file(weights)
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(AssetChecksumError) as err:
        verify_manifest(asset_dir)
    msg = str(err.value)
    assert "world_model/dynamics/model.safetensors" in msg and expected in msg and sha256_file(weights) in msg


def test_missing_and_extra_files_are_reported(asset_dir):
    write_manifest(asset_dir, "cmd")
    (asset_dir / "initial_states" / "config.json").unlink()
    (asset_dir / "world_model" / "stray.bin").write_bytes(b"x")
    with pytest.raises(AssetChecksumError, match=r"missing file initial_states/config.json") as err:
        verify_manifest(asset_dir)
    assert "unexpected file world_model/stray.bin" in str(err.value)


def test_bad_manifest_is_refused(asset_dir):
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        verify_manifest(asset_dir)
    (asset_dir / MANIFEST_FILE).write_text(json.dumps({"format": 99, "files": []}))
    with pytest.raises(AssetChecksumError, match="format"):
        verify_manifest(asset_dir)


def test_missing_default_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_module, "ASSETS_ROOT", tmp_path)
    with pytest.raises(AssetNotAvailableError) as err:
        default_asset_dir("brick_sorting")
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert "bundled default for brick_sorting is not available" in msg
    assert "python -m rise_env.assets.build --task brick_sorting" in msg and "world_model=" in msg
    assert "initial_states=" in msg
    with pytest.raises(ValueError, match="known tasks"):
        default_asset_dir("juggling")

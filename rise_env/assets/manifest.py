"""Manifests of asset folders: every file's sha256 and size, plus how the assets were made.

``manifest.json`` sits at the root of an asset folder::

    {
      "format": 1,
      "files": [{"path": "world_model/dynamics/model.safetensors", "sha256": "…", "size": 123}, …],
      "command": "python -m rise_env.assets.build …",
      "data": {…},          # which dataset / episodes the assets come from
      "metrics": {…},       # e.g. dynamics PSNR, value AUC, copied from result JSONs
      "created": "2025-01-01T00:00:00+00:00"
    }

Only the standard library is imported here, so ``import rise_env`` stays light.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from rise_env.utils.atomic import atomic_write_json

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 1
ASSETS_ROOT = Path(__file__).resolve().parent
TASKS = ("brick_sorting",)


class AssetChecksumError(RuntimeError):
    """An asset folder does not match its manifest (changed, missing or unexpected files)."""


class AssetNotAvailableError(FileNotFoundError):
    """The bundled default assets of a task are not part of this install."""


def sha256_file(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def _asset_files(asset_dir: Path) -> list[str]:
    """Relative POSIX paths of every file under ``asset_dir`` except the manifest and hidden files, sorted."""
    out = []
    for path in sorted(asset_dir.rglob("*")):
        rel = path.relative_to(asset_dir)
        if path.is_file() and rel.as_posix() != MANIFEST_FILE and not any(p.startswith(".") for p in rel.parts):
            out.append(rel.as_posix())
    return out


def write_manifest(
    asset_dir: str | os.PathLike,
    command: str,
    data: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """Hash every file under ``asset_dir`` and write ``manifest.json`` there atomically; returns it.

    Args:
        asset_dir: the folder (``world_model/``, ``initial_states/``, …).
        command: the exact command line that produced the assets.
        data: where the assets come from (dataset path, episodes, number of states, …).
        metrics: figures that back the assets (e.g. from result JSONs).
        created: ISO date; now (UTC) when None.
    """
    asset_dir = Path(asset_dir)
    if not asset_dir.is_dir():
        raise FileNotFoundError(f"asset folder {asset_dir} does not exist")
    files = [
        {"path": rel, "sha256": sha256_file(asset_dir / rel), "size": (asset_dir / rel).stat().st_size}
        for rel in _asset_files(asset_dir)
    ]
    if not files:
        raise ValueError(f"asset folder {asset_dir} holds no files to put in a manifest")
    manifest = {
        "format": MANIFEST_FORMAT,
        "files": files,
        "total_size": sum(f["size"] for f in files),
        "command": command,
        "data": data or {},
        "metrics": metrics or {},
        "created": created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_json(asset_dir / MANIFEST_FILE, manifest, indent=2)
    return manifest


def read_manifest(asset_dir: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``manifest.json`` of ``asset_dir`` (format and ``files`` entries checked)."""
    path = Path(asset_dir) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: {asset_dir} is not an asset folder with a manifest")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise AssetChecksumError(f"{path} is not valid JSON ({err}); the asset folder is corrupted") from None
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("files"), list):
        raise AssetChecksumError(
            f"{path} has format {manifest.get('format')!r} / files {type(manifest.get('files')).__name__}; "
            f"expected format {MANIFEST_FORMAT} with a 'files' list"
        )
    return manifest


def verify_manifest(asset_dir: str | os.PathLike) -> dict[str, Any]:
    """Check every file of ``asset_dir`` against its manifest; returns the manifest.

    Raises:
        FileNotFoundError: no ``manifest.json``.
        AssetChecksumError: naming each file whose size or sha256 differs (expected and actual),
            each listed file that is missing, and each file present but not listed.
    """
    asset_dir = Path(asset_dir)
    manifest = read_manifest(asset_dir)
    problems = []
    listed = set()
    for entry in manifest["files"]:
        rel = entry["path"]
        listed.add(rel)
        path = asset_dir / rel
        if not path.is_file():
            problems.append(f"missing file {rel} (expected sha256 {entry['sha256']})")
            continue
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            problems.append(f"{rel}: sha256 {actual} does not match the manifest's {entry['sha256']}")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{rel}: size {path.stat().st_size} bytes, the manifest says {entry['size']}")
    extra = sorted(set(_asset_files(asset_dir)) - listed)
    problems += [f"unexpected file {rel} (not in the manifest)" for rel in extra]
    if problems:
        raise AssetChecksumError(
            f"asset folder {asset_dir} does not match {MANIFEST_FILE}:\n  - "
            + "\n  - ".join(problems)
            + "\nReinstall the package or rebuild the assets (python -m rise_env.assets.build …)."
        )
    return manifest


def build_command(task: str) -> str:
    """The command that builds the bundled default of ``task`` from trained checkpoints."""
    return (
        f"python -m rise_env.assets.build --task {task} --world-model WORLD_MODEL_DIR "
        f"--data DATASET_DIR --out rise_env/assets/{task}"
    )


def default_asset_dir(task: str) -> Path:
    """Folder of the bundled default of ``task`` (``rise_env/assets/<task>``), checked to exist.

    Raises:
        ValueError: unknown task.
        AssetNotAvailableError: the default is not bundled in this install (says how to get one).
    """
    if task not in TASKS:
        raise ValueError(f"no bundled assets for task {task!r}; known tasks: {list(TASKS)}")
    path = ASSETS_ROOT / task
    if not (path / MANIFEST_FILE).is_file():
        raise AssetNotAvailableError(
            f"the bundled default for {task} is not available in this install ({path / MANIFEST_FILE} is missing); "
            f"train a world model and build it with `{build_command(task)}`, "
            "or pass world_model=<CompositionalWorldModel folder or object> and "
            "initial_states=<InitialStateBank folder or object>"
        )
    return path

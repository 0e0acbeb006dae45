"""Bundled default assets: per task a ``world_model/`` (CompositionalWorldModel folder), an
``initial_states/`` (InitialStateBank folder) and a ``manifest.json`` (sha256, size, command, data, metrics).

    rise_env/assets/brick_sorting/
      manifest.json
      world_model/{world_model.json, dynamics/, value/}
      initial_states/{config.json, initial_states.safetensors}
      policy/  (optional warm-up policy of the self-improving loop: config.json, model.safetensors, ...)

Built by ``python -m rise_env.assets.build``; checked by ``verify_manifest`` before use.
"""

from rise_env.assets.manifest import (
    MANIFEST_FILE,
    AssetChecksumError,
    AssetNotAvailableError,
    build_command,
    default_asset_dir,
    read_manifest,
    sha256_file,
    verify_manifest,
    write_manifest,
)

INITIAL_STATES_DIR = "initial_states"
WORLD_MODEL_DIR = "world_model"
POLICY_DIR = "policy"

__all__ = [
    "INITIAL_STATES_DIR",
    "POLICY_DIR",
    "MANIFEST_FILE",
    "WORLD_MODEL_DIR",
    "AssetChecksumError",
    "AssetNotAvailableError",
    "build_command",
    "default_asset_dir",
    "read_manifest",
    "sha256_file",
    "verify_manifest",
    "write_manifest",
]

"""Small shared helpers: atomic file writes and result provenance."""

from rise_env.utils.atomic import atomic_directory, atomic_write_bytes, atomic_write_text
from rise_env.utils.provenance import run_metadata, write_result_json

__all__ = ["atomic_directory", "atomic_write_bytes", "atomic_write_text", "run_metadata", "write_result_json"]

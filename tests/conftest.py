"""Fixtures every test folder can use."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def load_script():
    """``path -> module``: a script of the repository that is not in a package (``benchmarks/x.py``,
    ``examples/y.py``; the path relative to the repository root), loaded by its path."""

    def load(path: str):
        spec = importlib.util.spec_from_file_location(Path(path).stem, REPO / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load

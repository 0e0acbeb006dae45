"""Training algorithms over the advantage-conditioned policy; ``Algorithm`` (base.py) owns the loop.

Registry: ``ALGOS`` maps an ``--algo`` name to ``"module:Class"`` (imported on use). Names of the
paper's other methods are reserved in ``PLANNED`` so that they are recognised but answered clearly.
"""

from __future__ import annotations

import importlib

from rise_env.models.vla.config import resolve_preset

ALGOS: dict[str, str] = {
    "bc": "rise_agents.algos.bc:BC",
    "recap": "rise_agents.algos.recap:RECAP",
    "recap-online": "rise_agents.algos.recap_online:RecapOnline",
}
PLANNED: tuple[str, ...] = ("ppo", "dsrl", "dagger")


def resolve_algo(name: str) -> str:
    """Return ``name`` if it is a known algorithm; did-you-mean on a typo; clear error if not built yet."""
    name = resolve_preset(name, (*ALGOS, *PLANNED), "algorithm")
    if name not in ALGOS:
        raise NotImplementedError(f"algorithm {name!r} is not available yet; available: {sorted(ALGOS)}")
    return name


def get_algorithm_class(name: str) -> type:
    """The ``Algorithm`` subclass registered as ``name``."""
    module, cls = ALGOS[resolve_algo(name)].split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["ALGOS", "PLANNED", "get_algorithm_class", "resolve_algo"]

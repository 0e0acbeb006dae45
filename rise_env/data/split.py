"""The seeded train / held-out episode split shared by every trainer (dynamics, value) and the asset build,
and the ``--episodes`` lists of the evaluations and the build."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rise_env.utils.atomic import read_json


def split_episodes(num_episodes: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded episode split → sorted (train, val) lists; at least one of each when both are asked for,
    val empty when ``val_fraction`` is 0."""
    if num_episodes < 1:
        raise ValueError("the dataset holds no episode")
    n_val = int(round(num_episodes * val_fraction))
    if val_fraction > 0 and num_episodes >= 2:
        n_val = min(max(n_val, 1), num_episodes - 1)
    perm = np.random.default_rng(seed).permutation(num_episodes)
    return sorted(perm[n_val:].tolist()), sorted(perm[:n_val].tolist())


def choose_episodes(spec: str, checkpoint: Path, num_episodes: int) -> list[int]:
    """An evaluation's ``--episodes``: ``all``, ``val`` (the held-out episodes of the run whose
    ``run.json`` is near ``checkpoint``) or ``1,4,7``."""
    if spec == "all":
        return list(range(num_episodes))
    if spec == "val":
        return run_held_out_episodes(checkpoint)
    return parse_episode_list(spec, num_episodes)


def parse_episode_list(spec: str, num_episodes: int, keywords: tuple[str, ...] = ("all", "val")) -> list[int]:
    """``"3, 7"`` → [3, 7]; every index must lie in [0, ``num_episodes``) and at least one be given.
    ``keywords`` are the words the caller also takes, named in the error."""
    try:
        episodes = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError as err:
        words = ", ".join(repr(k) for k in keywords)
        raise ValueError(f"--episodes {spec!r}: expected {words} or comma-separated episode indices") from err
    bad = [e for e in episodes if not 0 <= e < num_episodes]
    if bad or not episodes:
        raise ValueError(f"--episodes {spec!r}: indices must lie in [0, {num_episodes}), got {bad or 'none'}")
    return episodes


def run_held_out_episodes(checkpoint: Path) -> list[int]:
    """The ``val_episodes`` of the training run whose ``run.json`` is in ``checkpoint`` or up to two
    folders above it (a run directory, its model folder or a sub-model of it)."""
    for folder in (checkpoint, checkpoint.parent, checkpoint.parent.parent):
        run_file = folder / "run.json"
        if run_file.is_file():
            held_out = read_json(run_file).get("val_episodes")
            if not held_out:
                raise ValueError(f"{run_file} holds no held-out episodes (trained with val_fraction 0)")
            return list(held_out)
    raise FileNotFoundError(f"--episodes val needs a run directory with run.json; none found near {checkpoint}")

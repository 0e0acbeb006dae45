"""Figures of a policy evaluation: Wilson interval, and the result-file schema (DESIGN "Result files")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

POLICY_RESULT_KEYS: dict[str, type | tuple[type, ...]] = {
    "task": str,
    "env": str,
    "policy": str,
    "trials": int,
    "seeds": list,
    "success_rate": (int, float),
    "success_ci95": list,
    "mean_score": (int, float),
    "per_trial": list,
    "command": str,
    "git_commit": (str, type(None)),
    "date": str,
    "machine": dict,
}
TRIAL_KEYS = ("seed", "success", "score", "events")


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval ``(lo, hi)`` of a success rate; ``(0, 1)`` without trials."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(per_trial: list[dict]) -> dict[str, Any]:
    """success_rate, success_ci95 and mean_score of a list of trials (each with success and score)."""
    n = len(per_trial)
    wins = sum(bool(t["success"]) for t in per_trial)
    lo, hi = wilson_interval(wins, n)
    return {
        "success_rate": wins / n if n else 0.0,
        "success_ci95": [lo, hi],
        "mean_score": sum(float(t["score"]) for t in per_trial) / n if n else 0.0,
    }


def validate_policy_result(result: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the first key that breaks the policy-evaluation schema."""
    for key, kind in POLICY_RESULT_KEYS.items():
        if key not in result:
            raise ValueError(f"result is missing {key!r}; expected keys {sorted(POLICY_RESULT_KEYS)}")
        if not isinstance(result[key], kind) or isinstance(result[key], bool) and kind is not bool:
            raise ValueError(f"result[{key!r}] is {type(result[key]).__name__}; expected {kind}")
    n = result["trials"]
    if len(result["seeds"]) != n or len(result["per_trial"]) != n:
        raise ValueError(f"seeds ({len(result['seeds'])}) and per_trial ({len(result['per_trial'])}) must hold "
                         f"trials={n} entries")
    lo, hi = result["success_ci95"]
    if not 0.0 <= lo <= result["success_rate"] <= hi <= 1.0:
        raise ValueError(f"success_ci95 {[lo, hi]} must bracket success_rate {result['success_rate']} within [0, 1]")
    if result["env"] not in ("twin", "real", "imagination"):
        raise ValueError(f"env must be 'twin', 'real' or 'imagination', got {result['env']!r}")
    for i, trial in enumerate(result["per_trial"]):
        missing = [k for k in TRIAL_KEYS if k not in trial]
        if missing:
            raise ValueError(f"per_trial[{i}] is missing {missing}; expected keys {TRIAL_KEYS}")

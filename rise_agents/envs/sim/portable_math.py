"""Arithmetic for the twin's expert that gives the same bits on every x86-64 CPU.

NumPy hands matrix products, solves and vector norms to OpenBLAS, which picks its kernels for
the CPU it runs on (Haswell, SkylakeX, Sandybridge, ...). Their last bits differ, and the
expert's IK (its convergence test, the choice between two equivalent grasp yaws) and the contact
simulation grow such differences into other trajectories: the same ``python -m rise_agents.collect``
command recorded two different datasets on two machines. The twin's code therefore does these
operations here, on MuJoCo's own C routines (one compiled code path), and scalar trigonometry
with Python's ``math`` (the C library), not NumPy's CPU-dispatched loops. Elementwise NumPy
arithmetic (``+ - * /``, ``sqrt``, ``abs``, ``clip``) is exactly rounded on every CPU and needs
no replacement.
"""

from __future__ import annotations

import mujoco
import numpy as np


def _vector(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).reshape(-1)


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors of equal length."""
    a, b = _vector(a), _vector(b)
    if a.shape != b.shape:
        raise ValueError(f"dot needs vectors of equal length, got {a.shape[0]} and {b.shape[0]}")
    return float(mujoco.mju_dot(a, b))


def norm(v: np.ndarray) -> float:
    """Euclidean length of a vector."""
    return float(mujoco.mju_norm(_vector(v)))


def mat_vec(mat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """``mat @ vec`` for ``mat`` (m, n) and ``vec`` (n,); returns (m,)."""
    mat = np.ascontiguousarray(mat, dtype=np.float64)
    vec = _vector(vec)
    if mat.ndim != 2 or mat.shape[1] != vec.shape[0]:
        raise ValueError(f"mat_vec needs a (m, n) matrix and an (n,) vector, got {mat.shape} and {vec.shape}")
    out = np.empty(mat.shape[0])
    mujoco.mju_mulMatVec(out, mat, vec)
    return out


def damped_least_squares(jac: np.ndarray, err: np.ndarray, damping: float) -> np.ndarray:
    """Joint step ``J^T (J J^T + damping^2 I)^-1 err`` for a Jacobian ``jac`` (m, n) and error (m,).

    Returns:
        (n,) step. The (m, m) system is symmetric positive definite for ``damping > 0`` and is
        solved by Cholesky.
    """
    if damping <= 0:
        raise ValueError(f"damping must be > 0 (it keeps the system positive definite), got {damping}")
    jac = np.ascontiguousarray(jac, dtype=np.float64)
    err = _vector(err)
    m, n = jac.shape
    if err.shape[0] != m:
        raise ValueError(f"error has {err.shape[0]} entries but the Jacobian has {m} rows")
    system = np.empty((m, m))
    mujoco.mju_mulMatMatT(system, jac, jac)
    system += damping * damping * np.eye(m)
    mujoco.mju_cholFactor(system, 0.0)
    weights = np.empty(m)
    mujoco.mju_cholSolve(weights, system, err)
    step = np.empty(n)
    mujoco.mju_mulMatTVec(step, jac, weights)
    return step

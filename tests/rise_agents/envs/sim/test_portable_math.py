"""The twin's expert arithmetic: right values, clear errors, and the same bits whatever BLAS kernel runs."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from rise_agents.envs.sim.portable_math import damped_least_squares, dot, mat_vec, norm


def test_values_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(7), rng.standard_normal(7)
    mat = rng.standard_normal((4, 7))
    jac, err = rng.standard_normal((6, 6)), rng.standard_normal(6)
    assert dot(a, b) == pytest.approx(float(a @ b), rel=1e-12)
    assert norm(a) == pytest.approx(float(np.linalg.norm(a)), rel=1e-12)
    np.testing.assert_allclose(mat_vec(mat, a), mat @ a, rtol=1e-12)
    want = jac.T @ np.linalg.solve(jac @ jac.T + 0.02**2 * np.eye(6), err)
    np.testing.assert_allclose(damped_least_squares(jac, err, 0.02), want, rtol=1e-8, atol=1e-10)


def test_damped_least_squares_of_a_wide_jacobian_reaches_the_target():
    """With a tiny damping, a (3, 6) Jacobian's step reproduces the error it was asked for."""
    rng = np.random.default_rng(1)
    jac, err = rng.standard_normal((3, 6)), rng.standard_normal(3)
    step = damped_least_squares(jac, err, 1e-6)
    assert step.shape == (6,)
    np.testing.assert_allclose(jac @ step, err, atol=1e-8)


def test_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="equal length"):
        dot(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(m, n\) matrix and an \(n,\) vector"):
        mat_vec(np.zeros((3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="damping must be > 0"):
        damped_least_squares(np.eye(6), np.zeros(6), 0.0)
    with pytest.raises(ValueError, match="Jacobian has 6 rows"):
        damped_least_squares(np.eye(6), np.zeros(5), 0.02)


_BLAS_DOT = """
import numpy as np
rng = np.random.default_rng(0)
print((rng.standard_normal(1000) @ rng.standard_normal(1000)).hex())
"""

_TWIN_EPISODES = """
import hashlib
from rise_agents.data_collection.recorder import record_episode
from rise_agents.envs.sim import BrickSortingSimEnv, make_expert
env = BrickSortingSimEnv(chunk_size=50, info_frame_hz=30, height=16, width=16, render_cameras=False)
digest = hashlib.sha256(env.arms.home_action.tobytes())
for mode, seed in (("demo", 35), ("rollout", 100)):
    ep = record_episode(env, make_expert, mode, seed, "sort")
    digest.update(ep.states.tobytes() + ep.actions.tobytes())
print(len(ep.states), digest.hexdigest())
"""


def _run_with_kernel(code: str, coretype: str) -> str:
    env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_twin_episodes_do_not_depend_on_the_blas_kernel():
    """Two BLAS kernels that round a dot product differently record the very same episodes.

    Before the expert's linear algebra moved to MuJoCo's routines, the home pose's wrist roll
    already differed by pi between these kernels, and every episode with it.
    """
    kernels = ("Haswell", "Sandybridge")
    dots = {k: _run_with_kernel(_BLAS_DOT, k) for k in kernels}
    if len(set(dots.values())) == 1:
        pytest.skip("this NumPy's OpenBLAS does not switch kernels through OPENBLAS_CORETYPE")
    episodes = {k: _run_with_kernel(_TWIN_EPISODES, k) for k in kernels}
    assert episodes["Haswell"] == episodes["Sandybridge"]
    assert int(episodes["Haswell"].split()[0]) > 100  # a whole rollout ran, not just a reset

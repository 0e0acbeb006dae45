"""The single choke point for motion commands, and the SIGINT helper.

Every joint/gripper target that reaches the arms goes through ``SafetyFilter.send``: it refuses
non-finite values, clamps to the configured limits and limits the change per control tick
(``max_joint_speed / control_hz``), then hands each arm its 7 values. Nothing else calls
``PiperArm.command``, so "no frame beyond the limits is ever sent" holds by construction and is
checked by the tests on the bus.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rise_agents.envs.agilex.errors import AgileXFault


def clamp_and_rate_limit(
    target: np.ndarray, previous: np.ndarray, low: np.ndarray, high: np.ndarray, max_step: np.ndarray
) -> np.ndarray:
    """Clamp ``target`` to ``[low, high]`` and to ``previous +- max_step``; all (D,) -> (D,) float64.

    The limits win over the step bound: the result is always within ``[low, high]``.
    """
    t = np.clip(np.asarray(target, dtype=np.float64), low, high)
    stepped = np.clip(t, previous - max_step, previous + max_step)
    return np.clip(stepped, low, high)


class SafetyFilter:
    """Clamp, speed-limit and send (14,) commands to the two arms.

    Args:
        arms: the left and right ``PiperArm`` (anything with ``command((7,))``).
        low, high: (14,) limits (rad / m).
        max_step: (14,) largest change per tick (rad / m).
    """

    def __init__(self, arms: Sequence[Any], low: np.ndarray, high: np.ndarray, max_step: np.ndarray) -> None:
        if len(arms) != 2:
            raise ValueError(f"SafetyFilter needs the two arms (left, right), got {len(arms)}")
        self.arms = list(arms)
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.max_step = np.asarray(max_step, dtype=np.float64)
        self.last_sent: np.ndarray | None = None
        self.n_sent = 0
        self.n_clamped = 0
        self.n_rate_limited = 0
        self._lock = threading.Lock()

    def reset(self, measured: np.ndarray) -> None:
        """Start speed limiting from the measured position (14,)."""
        with self._lock:
            self.last_sent = np.clip(np.asarray(measured, dtype=np.float64), self.low, self.high)

    def filter(self, target: np.ndarray) -> np.ndarray:
        """The command that ``send`` would emit for ``target``; does not send."""
        target = np.asarray(target, dtype=np.float64)
        if target.shape != self.low.shape:
            raise ValueError(f"command must have shape {self.low.shape}, got {target.shape}")
        if not np.all(np.isfinite(target)):
            raise ValueError(f"refusing a non-finite command: {target}")
        if self.last_sent is None:
            raise RuntimeError("SafetyFilter.reset(measured) must be called before the first command")
        return clamp_and_rate_limit(target, self.last_sent, self.low, self.high, self.max_step)

    def send(self, target: np.ndarray) -> np.ndarray:
        """Filter ``target`` (14,) and send it to both arms; return what was sent (14,)."""
        with self._lock:
            cmd = self.filter(target)
            clipped = np.clip(target, self.low, self.high)
            self.n_clamped += int(np.any(clipped != target))
            self.n_rate_limited += int(np.any(cmd != clipped))
            self.arms[0].command(cmd[:7])
            self.arms[1].command(cmd[7:])
            self.last_sent = cmd
            self.n_sent += 1
            return cmd.copy()


class SigintGuard:
    """On Ctrl-C call ``on_interrupt()`` (a safe stop), then raise ``KeyboardInterrupt`` as usual.

    Installs itself only in the main thread; ``restore()`` puts the previous handler back.
    """

    def __init__(self, on_interrupt: Callable[[], None]) -> None:
        self._on_interrupt = on_interrupt
        self._previous: Any = None
        self.installed = False

    def install(self) -> SigintGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        try:
            self._on_interrupt()
        finally:
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self._previous)
            self.installed = False


def install_sigint_handler(env: Any) -> SigintGuard:
    """Make Ctrl-C stop ``env`` safely (``env.safe_stop``) before the usual KeyboardInterrupt.

    Returns the guard; call ``guard.restore()`` to put the previous handler back.
    """
    return SigintGuard(lambda: env.safe_stop(AgileXFault("interrupted by SIGINT (Ctrl-C)"))).install()

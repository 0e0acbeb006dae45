"""Asynchronous inference (paper Sec. X-B): the policy predicts chunks in a background thread while
the 30 Hz executor keeps moving; each new chunk is blended into the unexecuted plan.

    with AsyncChunkRunner(env, policy, replan_every=25):
        time.sleep(30.0)                      # the robot runs; Ctrl-C stops it safely
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import numpy as np


class ChunkPolicy(Protocol):
    def predict_chunk(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """``obs`` -> ``(H, 14)`` absolute joint targets."""


class AsyncChunkRunner:
    """Query ``policy.predict_chunk`` whenever ``replan_every`` ticks of the last chunk have run.

    Each chunk is submitted with the tick of the observation it was predicted from, so the steps
    that elapsed during inference are dropped and the rest is blended in (``config.blending``).

    Args:
        env: a reset ``AgileXEnv``.
        policy: any object with ``predict_chunk(obs) -> (H, 14)``.
        replan_every: ticks between two predictions (must be < H so chunks overlap).
    """

    def __init__(self, env: Any, policy: ChunkPolicy, replan_every: int = 25) -> None:
        horizon = env.config.chunk_horizon
        if not 1 <= replan_every < horizon:
            raise ValueError(
                f"replan_every must be in [1, {horizon - 1}] ticks (chunks must overlap), got {replan_every}"
            )
        self.env, self.policy, self.replan_every = env, policy, replan_every
        self.error: BaseException | None = None
        self.chunks = 0
        self.latencies: list[float] = []  # inference time per chunk (s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AsyncChunkRunner:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="agilex-inference", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        period = 1.0 / self.env.config.control_hz
        try:
            while not self._stop.is_set():
                obs, tick = self.env.get_observation()
                t0 = time.monotonic()
                chunk = self.policy.predict_chunk(obs)
                self.latencies.append(time.monotonic() - t0)
                self.env.submit_chunk(chunk, start_tick=tick)
                self.chunks += 1
                while not self._stop.is_set() and self.env.current_tick < tick + self.replan_every:
                    self._stop.wait(period / 4)
        except BaseException as e:  # noqa: BLE001 - reported to the caller by stop()/check()
            self.error = e

    def check(self) -> None:
        """Re-raise the inference thread's error (a policy exception or the env's fault), if any."""
        if self.error is not None:
            raise self.error

    def stop(self, timeout: float = 5.0) -> None:
        """Stop predicting (the executor holds the last plan's end) and re-raise any error."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.check()

    def __enter__(self) -> AsyncChunkRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The 30 Hz control thread: runs the plan, watches the arms and cameras, stops safely on faults.

Scheduling uses absolute deadlines ``t0 + k / control_hz`` (no drift). A tick more than one
period late re-anchors the schedule instead of bursting. Between ticks the thread polls the
feedback time stamps every ``poll_s`` so a silent arm is caught within
``feedback_timeout_s + poll_s`` (50 + 10 ms by default), not a whole tick later.

Safe stop (any ``AgileXFault``): the arms hold their current position for
``hold_before_disable_s`` and are then disabled; the fault is re-raised to whoever waits on the
executor (``step()``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rise_agents.envs.agilex.cameras import Camera, Frame
from rise_agents.envs.agilex.config import AgileXConfig
from rise_agents.envs.agilex.errors import (
    AgileXFault,
    ArmFaultError,
    CommandTimeoutError,
    EmergencyStopError,
    FeedbackLostError,
)
from rise_agents.envs.agilex.piper_arm import PiperArm
from rise_agents.envs.agilex.safety import SafetyFilter
from rise_agents.execution.blending import make_planner


@dataclass(frozen=True)
class TickRecord:
    """What happened at one control tick."""

    tick: int
    deadline: float  # scheduled start (monotonic s)
    start: float  # actual start (monotonic s)
    command: np.ndarray  # (14,) sent after the safety filter
    state: np.ndarray  # (14,) measured before sending
    frames: tuple[Frame, ...]  # latest frame of each camera (top, left_wrist, right_wrist)


class ChunkExecutor:
    """Runs the plan at ``control_hz`` on a daemon thread. Thread-safe public methods."""

    def __init__(
        self, config: AgileXConfig, arms: Sequence[PiperArm], cameras: Sequence[Camera], safety: SafetyFilter,
        poll_s: float = 0.01, history: int | None = None,
    ) -> None:
        self.config = config
        self.arms = list(arms)
        self.cameras = list(cameras)
        self.safety = safety
        self.period = 1.0 / config.control_hz
        self.poll_s = poll_s
        self.planner = make_planner(config.blending, config.ensemble_k)
        self.records: deque[TickRecord] = deque(maxlen=history or (2 * config.chunk_horizon + 2 * config.control_hz))
        self.lateness: deque[float] = deque(maxlen=100_000)  # s, start - deadline, per tick
        self.feedback_ages: deque[float] = deque(maxlen=100_000)  # s, oldest arm feedback at each tick
        self.overruns = 0
        self.hold_ticks = 0  # ticks with no plan (holding the last command)
        self.fault: AgileXFault | None = None
        self.fault_time: float | None = None  # monotonic s when the fault was detected
        self._cond = threading.Condition()
        self._next_tick = 0
        self._done_tick = -1
        self._last_submit = time.monotonic()
        self._hold: np.ndarray | None = None
        self._hold_until = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.latest_state: np.ndarray | None = None
        self._saved_switch: float | None = None

    # ------------------------------------------------------------------ public API
    def start(self, measured: np.ndarray) -> None:
        """Start ticking, holding ``measured`` (14,) until a chunk arrives."""
        self.safety.reset(measured)
        self.latest_state = np.asarray(measured, dtype=np.float64).copy()
        self._last_submit = time.monotonic()
        self._stop.clear()
        if self.config.gil_switch_interval_s is not None and self._saved_switch is None:
            self._saved_switch = sys.getswitchinterval()
            sys.setswitchinterval(self.config.gil_switch_interval_s)
        self._thread = threading.Thread(target=self._run, name="agilex-executor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop ticking (the arms keep their last command; nothing is disabled here)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._saved_switch is not None:
            sys.setswitchinterval(self._saved_switch)
            self._saved_switch = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def next_tick(self) -> int:
        """First tick not started yet (a chunk submitted now starts here)."""
        with self._cond:
            return self._next_tick

    def submit(self, chunk: np.ndarray, start_tick: int | None = None) -> int:
        """Merge a validated (H, 14) chunk into the plan; row 0 targets ``start_tick`` (default: the
        next tick). Returns the start tick used. Raises the fault if the executor has stopped safely."""
        with self._cond:
            self._raise_if_faulted()
            first = self._next_tick if start_tick is None else int(start_tick)
            self.planner.submit(chunk, first, self._next_tick)
            self._last_submit = time.monotonic()
            return first

    def wait_tick(self, tick: int, timeout: float) -> None:
        """Block until ``tick`` has been executed; raise the fault, or ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._done_tick < tick:
                self._raise_if_faulted()
                left = deadline - time.monotonic()
                if left <= 0 or (self._thread is None and self.fault is None):
                    raise TimeoutError(f"tick {tick} not executed within {timeout:.1f} s (done: {self._done_tick})")
                self._cond.wait(min(left, 0.1))
            self._raise_if_faulted()

    def window(self, first: int, last: int) -> list[TickRecord]:
        """Records of ticks ``first .. last - 1`` still in the history."""
        with self._cond:
            return [r for r in self.records if first <= r.tick < last]

    def safe_stop(self, fault: AgileXFault) -> None:
        """Request a safe stop from any thread: hold, then disable; ``fault`` is raised to waiters."""
        with self._cond:
            if self.fault is None:
                self.fault = fault
                self.fault_time = time.monotonic()
                self._hold = None  # the tick thread picks the hold position
                self._hold_until = time.monotonic() + self.config.hold_before_disable_s
            self._cond.notify_all()
        if not self.running:
            self._finish_stop()

    def emergency_stop(self, reason: str = "emergency stop requested") -> None:
        """Firmware quick stop on both arms now (0x150), then no more motion commands."""
        err = EmergencyStopError(reason)
        with self._cond:
            if self.fault is None or not isinstance(self.fault, EmergencyStopError):
                self.fault = err
                self.fault_time = time.monotonic()
            self._hold_until = 0.0
            self._cond.notify_all()
        self._stop.set()
        for arm in self.arms:
            try:
                arm.emergency_stop()
            except Exception:  # noqa: BLE001 - the other arm must still be stopped
                pass

    # ------------------------------------------------------------------ loop
    def _raise_if_faulted(self) -> None:
        if self.fault is not None:
            raise self.fault

    def _set_realtime(self) -> None:
        prio = self.config.realtime_priority
        if prio is None:
            return
        try:
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(prio))
        except (AttributeError, OSError) as e:
            warnings.warn(f"AgileX executor: SCHED_FIFO priority {prio} refused ({e}); normal scheduling", stacklevel=2)

    def _run(self) -> None:
        self._set_realtime()
        t0 = time.monotonic()
        k = 0
        while not self._stop.is_set():
            deadline = t0 + k * self.period
            self._sleep_until(deadline)
            if self._stop.is_set():
                break
            if self.fault is None:
                start = time.monotonic()
                late = start - deadline
                self.lateness.append(late)
                if late > self.period:  # re-anchor: never burst to catch up
                    self.overruns += 1
                    t0 += late
                try:
                    self._tick(deadline, start)
                except AgileXFault as f:
                    self.safe_stop(f)
                except Exception as e:  # noqa: BLE001 - anything unexpected is a fault too
                    self.safe_stop(AgileXFault(f"control loop error: {type(e).__name__}: {e}"))
            if self.fault is not None and self._stop_tick():  # first hold goes out at once
                break
            k += 1
        with self._cond:
            self._cond.notify_all()

    def _sleep_until(self, deadline: float) -> None:
        """Sleep to ``deadline`` (spin the last ``spin_s``), polling the feedback watchdog.

        Returns early if the watchdog fires, so the safe stop starts at once.
        """
        spin = self.config.spin_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if left <= spin:
                continue  # spin for precision
            self._stop.wait(min(left - spin, self.poll_s))
            if self._stop.is_set():
                return
            if self.fault is None and deadline - time.monotonic() > spin + 0.003:
                try:
                    self._check_feedback_age()
                except AgileXFault as f:
                    self.safe_stop(f)
                    return

    def _check_feedback_age(self) -> list:
        timeout = self.config.feedback_timeout_s
        now = time.time()
        fbs = []
        for arm in self.arms:
            fb = arm.read()
            age = fb.age(now)
            if age > timeout:
                what = "ever" if age == float("inf") else f"for {age * 1000:.0f} ms"
                raise FeedbackLostError(
                    f"{arm.name} arm ('{arm.config.can_interface}'): no joint/gripper feedback {what} "
                    f"(watchdog timeout {timeout * 1000:.0f} ms)"
                )
            fbs.append(fb)
        return fbs

    def _tick(self, deadline: float, start: float) -> None:
        cfg = self.config
        fbs = self._check_feedback_age()
        for arm, fb in zip(self.arms, fbs):
            arm.check_fault(fb)
            if not all(fb.enabled):
                off = [f"j{i + 1}" for i, on in enumerate(fb.enabled) if not on]
                raise ArmFaultError(f"{arm.name} arm: joint drivers {off} became disabled while running")
        self.feedback_ages.append(max(fb.age() for fb in fbs))
        measured = np.concatenate([fb.position for fb in fbs])
        frames = tuple(cam.latest(cfg.camera_timeout_s) for cam in self.cameras)
        with self._cond:
            tick = self._next_tick
            self._next_tick += 1
            target = self.planner.action_at(tick)
            idle = time.monotonic() - self._last_submit
        if target is None:
            if cfg.command_timeout_s is not None and idle > cfg.command_timeout_s:
                raise CommandTimeoutError(
                    f"no new action chunk for {idle:.1f} s (command watchdog {cfg.command_timeout_s:.1f} s)"
                )
            target = self.safety.last_sent  # plan ran out: hold the last command
            self.hold_ticks += 1
        cmd = self.safety.send(target)
        self.latest_state = measured
        with self._cond:
            self.records.append(TickRecord(tick, deadline, start, cmd, measured, frames))
            self._done_tick = tick
            self._cond.notify_all()

    def _stop_tick(self) -> bool:
        """One tick of a safe stop: hold, then disable. Returns True once disabled."""
        if isinstance(self.fault, EmergencyStopError):
            return True
        if time.monotonic() >= self._hold_until:
            self._finish_stop()
            return True
        if self._hold is None:
            self._hold = self._hold_position()
        try:
            self.safety.send(self._hold)
        except Exception:  # noqa: BLE001 - keep trying to hold, then disable
            pass
        return False

    def _hold_position(self) -> np.ndarray:
        if isinstance(self.fault, FeedbackLostError) or self.latest_state is None:
            return self.safety.last_sent.copy()  # the last target the arm was following
        try:
            return np.concatenate([arm.read().position for arm in self.arms])
        except Exception:  # noqa: BLE001
            return self.safety.last_sent.copy()

    def _finish_stop(self) -> None:
        last = self.safety.last_sent
        for i, arm in enumerate(self.arms):
            try:
                arm.disable(None if last is None else float(last[7 * i + 6]))
            except Exception:  # noqa: BLE001 - disable the other arm anyway
                pass
        with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ stats
    def jitter_stats(self) -> dict[str, float]:
        """p50/p99/max of deadline lateness and of tick-period error over the recorded ticks (ms)."""
        return timing_stats(list(self.lateness), list(self.feedback_ages), self.overruns)


def timing_stats(
    lateness: list[float], feedback_ages: list[float], overruns: int = 0, period_errors: np.ndarray | None = None
) -> dict[str, float]:
    """Timing figures in ms from per-tick lateness (start - deadline, s) and feedback ages (s).

    The period error is ``|actual period - nominal period|`` between consecutive ticks; pass
    ``period_errors`` when the ticks come from several separate runs (no error across a gap).
    """
    late = np.asarray(lateness, dtype=np.float64)
    if len(late) < 3:
        return {}
    period_err = np.abs(np.diff(late)) if period_errors is None else np.asarray(period_errors, dtype=np.float64)
    ages = np.asarray(feedback_ages, dtype=np.float64)
    ms = 1000.0
    return {
        "ticks": int(len(late)),
        "lateness_p50_ms": float(np.percentile(late, 50) * ms),
        "lateness_p99_ms": float(np.percentile(late, 99) * ms),
        "lateness_max_ms": float(late.max() * ms),
        "period_error_p50_ms": float(np.percentile(period_err, 50) * ms),
        "period_error_p99_ms": float(np.percentile(period_err, 99) * ms),
        "period_error_max_ms": float(period_err.max() * ms),
        "overruns": int(overruns),
        "feedback_age_p99_ms": float(np.percentile(ages, 99) * ms) if len(ages) else float("nan"),
        "feedback_age_max_ms": float(ages.max() * ms) if len(ages) else float("nan"),
    }

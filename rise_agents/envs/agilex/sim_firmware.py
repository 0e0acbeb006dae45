"""A simulated Piper arm firmware on a python-can bus, for tests and dry runs without hardware.

It plays the arm's side of the CAN protocol (piper_sdk 0.6.2, protocol V2):

* streams joint feedback 0x2A5-0x2A7 (int32 big-endian, 0.001 deg), gripper 0x2A8 (int32 0.001 mm,
  int16 effort, status byte), arm status 0x2A1 and, at a lower rate, the low-speed driver frames
  0x261-0x266 whose byte 5 bit 6 is "driver enabled";
* applies 0x471 enable/disable, 0x150 emergency stop (0x01) / reset (0x02), 0x151 control mode,
  and follows 0x155-0x157 joint and 0x159 gripper targets with first-order dynamics while enabled.

It can be told to go silent (stop all feedback) or to report a fault. Run it standalone::

    python -m rise_agents.envs.agilex.sim_firmware --channel vcan_left --interface virtual

(``virtual`` buses are in-process only; use a ``vcan`` socketcan interface to talk across processes.)
"""

from __future__ import annotations

import argparse
import math
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import can
import numpy as np

MDEG_PER_RAD = 180000.0 / math.pi
UM_PER_M = 1e6
ID_STATUS = 0x2A1
ID_JOINT_FEEDBACK = (0x2A5, 0x2A6, 0x2A7)
ID_GRIPPER_FEEDBACK = 0x2A8
ID_LOW_SPEED = tuple(range(0x261, 0x267))
ID_MOTION_CTRL_1 = 0x150
ID_MOTION_CTRL_2 = 0x151
ID_JOINT_CTRL = (0x155, 0x156, 0x157)
ID_GRIPPER_CTRL = 0x159
ID_ENABLE = 0x471
ENABLE_BIT = 1 << 6
DRIVER_ERROR_BIT = 1 << 5


@dataclass
class FirmwareState:
    """What the simulated arm is doing (SI units: rad, m)."""

    joints: np.ndarray = field(default_factory=lambda: np.zeros(6))
    gripper: float = 0.0
    joint_target: np.ndarray = field(default_factory=lambda: np.zeros(6))
    gripper_target: float = 0.0
    enabled: np.ndarray = field(default_factory=lambda: np.zeros(6, dtype=bool))
    gripper_enabled: bool = False
    ctrl_mode: int = 0x00
    estopped: bool = False
    arm_status: int = 0x00
    err_code: int = 0
    driver_error: bool = False


class SimulatedPiperFirmware:
    """One simulated Piper arm listening and talking on ``channel``.

    Args:
        channel: CAN channel (interface) name; a unique name per arm and per test.
        interface: python-can interface type ("virtual" by default).
        feedback_hz: rate of the joint/gripper/status feedback frames (the real arm: ~200 Hz).
        low_speed_every: send the six low-speed driver frames every this many feedback cycles.
        tau: time constant of the first-order joint and gripper dynamics (s).
        initial_joints: starting joint angles (6,) in rad; zeros by default.
        initial_gripper: starting gripper opening (m).
    """

    def __init__(
        self,
        channel: str,
        interface: str = "virtual",
        feedback_hz: float = 200.0,
        low_speed_every: int = 10,
        tau: float = 0.05,
        initial_joints: Sequence[float] | None = None,
        initial_gripper: float = 0.0,
    ) -> None:
        self.channel = channel
        self.interface = interface
        self.period = 1.0 / feedback_hz
        self.low_speed_every = max(1, low_speed_every)
        self.tau = tau
        self.state = FirmwareState()
        if initial_joints is not None:
            self.state.joints = np.asarray(initial_joints, dtype=np.float64).copy()
        self.state.joint_target = self.state.joints.copy()
        self.state.gripper = self.state.gripper_target = float(initial_gripper)
        self.lock = threading.Lock()
        self.silent = threading.Event()
        self.received: deque[tuple[float, int, bytes]] = deque(maxlen=100_000)  # (monotonic s, id, data)
        self.on_frame: Callable[[can.Message], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bus: can.BusABC | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SimulatedPiperFirmware:
        """Open the bus and start streaming in a daemon thread."""
        self._bus = can.Bus(interface=self.interface, channel=self.channel, receive_own_messages=False)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"sim-piper-{self.channel}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and shut the bus down."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._bus is not None:
            self._bus.shutdown()
            self._bus = None

    def __enter__(self) -> SimulatedPiperFirmware:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ fault injection
    def go_silent(self, silent: bool = True) -> None:
        """Stop (or resume) sending every feedback frame, as if the arm lost power or its cable."""
        if silent:
            self.silent.set()
        else:
            self.silent.clear()

    def set_fault(self, arm_status: int = 0x05, err_code: int = 0x0100, driver_error: bool = True) -> None:
        """Report a fault: status 0x2A1 ``arm_status``/``err_code`` and the driver-error bit of 0x261-0x266."""
        with self.lock:
            self.state.arm_status, self.state.err_code, self.state.driver_error = arm_status, err_code, driver_error

    def clear_fault(self) -> None:
        self.set_fault(0x00, 0, False)

    def snapshot(self) -> FirmwareState:
        """A copy of the current state."""
        with self.lock:
            s = self.state
            return FirmwareState(
                s.joints.copy(), s.gripper, s.joint_target.copy(), s.gripper_target, s.enabled.copy(),
                s.gripper_enabled, s.ctrl_mode, s.estopped, s.arm_status, s.err_code, s.driver_error,
            )

    # ------------------------------------------------------------------ loop
    def _run(self) -> None:
        assert self._bus is not None
        bus = self._bus
        next_t = time.monotonic()
        last = next_t
        cycle = 0
        while not self._stop.is_set():
            timeout = max(0.0, next_t - time.monotonic())
            msg = bus.recv(timeout=timeout)
            while msg is not None:  # drain everything that has arrived
                self._apply(msg)
                msg = bus.recv(timeout=0.0)
            now = time.monotonic()
            if now < next_t:
                continue
            self._integrate(now - last)
            last = now
            next_t += self.period
            if next_t < now:  # fell behind (loaded machine): re-anchor instead of bursting
                next_t = now + self.period
            if not self.silent.is_set():
                try:
                    for frame in self._feedback_frames(cycle % self.low_speed_every == 0):
                        bus.send(frame)
                except can.CanError:
                    return
            cycle += 1

    def _integrate(self, dt: float) -> None:
        alpha = 1.0 - math.exp(-max(dt, 0.0) / self.tau)
        with self.lock:
            s = self.state
            if s.estopped:
                return
            moving = s.enabled & (s.ctrl_mode == 0x01)
            s.joints = np.where(moving, s.joints + alpha * (s.joint_target - s.joints), s.joints)
            if s.gripper_enabled:
                s.gripper += alpha * (s.gripper_target - s.gripper)

    def _apply(self, msg: can.Message) -> None:
        data = bytes(msg.data)
        self.received.append((time.monotonic(), msg.arbitration_id, data))
        if self.on_frame is not None:
            self.on_frame(msg)
        aid = msg.arbitration_id
        with self.lock:
            s = self.state
            if aid == ID_ENABLE:
                motor, flag = data[0], data[1]
                idx = slice(None) if motor in (7, 0xFF) else slice(motor - 1, motor)
                if flag in (0x01, 0x02):
                    s.enabled[idx] = flag == 0x02
                    if flag == 0x02:  # start from where the joints are, never jump to a stale target
                        s.joint_target[idx] = s.joints[idx]
            elif aid == ID_MOTION_CTRL_1:
                if data[0] == 0x01:
                    s.estopped, s.arm_status = True, 0x01
                elif data[0] == 0x02:  # reset: power off the joints, clear errors and the e-stop
                    s.estopped, s.arm_status, s.err_code, s.driver_error = False, 0x00, 0, False
                    s.enabled[:] = False
            elif aid == ID_MOTION_CTRL_2:
                s.ctrl_mode = data[0]
            elif aid in ID_JOINT_CTRL:
                pair = ID_JOINT_CTRL.index(aid)
                a, b = struct.unpack(">ii", data[:8])
                s.joint_target[2 * pair] = a / MDEG_PER_RAD
                s.joint_target[2 * pair + 1] = b / MDEG_PER_RAD
            elif aid == ID_GRIPPER_CTRL:
                angle = struct.unpack(">i", data[:4])[0]
                code = data[6]
                s.gripper_enabled = code in (0x01, 0x03)
                if s.gripper_enabled:
                    s.gripper_target = angle / UM_PER_M

    def _feedback_frames(self, with_low_speed: bool) -> list[can.Message]:
        with self.lock:
            s = self.state
            joints_mdeg = [int(round(v * MDEG_PER_RAD)) for v in s.joints]
            frames = [
                _msg(ID_STATUS, struct.pack(">BBBBBBH", s.ctrl_mode, s.arm_status, 0x01, 0, 0, 0, s.err_code)),
            ]
            for k, aid in enumerate(ID_JOINT_FEEDBACK):
                frames.append(_msg(aid, struct.pack(">ii", joints_mdeg[2 * k], joints_mdeg[2 * k + 1])))
            g_status = (ENABLE_BIT if s.gripper_enabled else 0) | (DRIVER_ERROR_BIT if s.driver_error else 0)
            frames.append(
                _msg(ID_GRIPPER_FEEDBACK, struct.pack(">ihBB", int(round(s.gripper * UM_PER_M)), 0, g_status, 0))
            )
            if with_low_speed:
                for j, aid in enumerate(ID_LOW_SPEED):
                    foc = (ENABLE_BIT if s.enabled[j] else 0) | (DRIVER_ERROR_BIT if s.driver_error else 0)
                    frames.append(_msg(aid, struct.pack(">HhbBH", 240, 30, 30, foc, 100)))
        return frames


def _msg(arbitration_id: int, data: bytes) -> can.Message:
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False)


class BusSpy:
    """Records every frame seen on a channel (and optionally checks each one as it arrives).

    ``check(msg)`` may raise; the first failure is kept in ``failure`` and every later frame is
    still recorded, so a test can assert both "no violation" and "these exact frames were sent".
    """

    def __init__(
        self, channel: str, interface: str = "virtual", check: Callable[[can.Message], None] | None = None
    ) -> None:
        self.channel = channel
        self.frames: list[tuple[float, int, bytes]] = []
        self.failure: BaseException | None = None
        self._check = check
        self._bus = can.Bus(interface=interface, channel=channel, receive_own_messages=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"bus-spy-{channel}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._bus.recv(timeout=0.05)
            if msg is None:
                continue
            self.frames.append((time.monotonic(), msg.arbitration_id, bytes(msg.data)))
            if self._check is not None and self.failure is None:
                try:
                    self._check(msg)
                except BaseException as e:  # noqa: BLE001 - kept for the test to report
                    self.failure = e

    def sent(self, arbitration_id: int) -> list[tuple[float, bytes]]:
        """(monotonic time, payload) of every recorded frame with this id."""
        return [(t, d) for t, i, d in list(self.frames) if i == arbitration_id]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._bus.shutdown()


def main(argv: Sequence[str] | None = None) -> None:
    """Run one simulated arm until Ctrl-C."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channel", required=True, help="CAN channel name, e.g. vcan0")
    p.add_argument("--interface", default="virtual", help="python-can interface type (virtual, socketcan)")
    p.add_argument("--feedback-hz", type=float, default=200.0, help="feedback rate (Hz)")
    args = p.parse_args(argv)
    with SimulatedPiperFirmware(args.channel, args.interface, args.feedback_hz) as fw:
        print(f"simulated Piper firmware on {args.interface}:{args.channel}; Ctrl-C to stop")
        try:
            while True:
                time.sleep(1.0)
                s = fw.snapshot()
                print(f"enabled={s.enabled.all()} joints={np.round(s.joints, 3)} gripper={s.gripper:.4f}")
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

"""One Piper arm behind a small adapter over piper_sdk 0.6.2 (``C_PiperInterface_V2``).

All unit conversion lives here: the rest of the package speaks rad and metres, the SDK speaks
0.001 deg (joints) and 0.001 mm (gripper). The SDK's quirks are handled here too:

* ``EnablePiper()`` returns the state *before* it sends, so enabling polls the driver bits;
* ``GripperCtrl`` defaults to ``gripper_code=0`` (disable): we always pass 0x01;
* ``isOk()`` is not a watchdog: freshness comes from the feedback ``time_stamp`` fields;
* the SDK swallows send errors (it only logs them): we count them and raise ``CanBusError``;
* instances are per-CAN-name singletons whose threads outlive ``DisconnectPort()``: ``close()``
  stops them and forgets the instance;
* on a ``virtual`` bus nothing reads the SDK's separate send bus, so its queue would grow: we
  send on the receiving bus instead.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from rise_agents.envs.agilex.config import ArmConfig
from rise_agents.envs.agilex.errors import ArmEnableError, ArmFaultError, CanBusError, FeedbackLostError

MDEG_PER_RAD = 180000.0 / math.pi  # 0.001 deg per rad (57295.7795)
UM_PER_M = 1e6  # 0.001 mm per m
_SDK_PREFIX = "_C_PiperInterface_V2__"


def rad_to_mdeg(rad: np.ndarray) -> list[int]:
    """Joint angles (6,) rad -> SDK integers in 0.001 deg."""
    return [int(round(float(v) * MDEG_PER_RAD)) for v in rad]


def mdeg_to_rad(mdeg: list[int] | np.ndarray) -> np.ndarray:
    """SDK joint integers (0.001 deg) -> (6,) float64 rad."""
    return np.asarray(mdeg, dtype=np.float64) / MDEG_PER_RAD


def m_to_um(m: float, scale: float = 1.0) -> int:
    """Gripper opening (m) -> SDK integer in 0.001 mm (times the rig's gripper scale)."""
    return int(round(float(m) * UM_PER_M * scale))


def um_to_m(um: int, scale: float = 1.0) -> float:
    """SDK gripper integer (0.001 mm) -> opening in m."""
    return float(um) / (UM_PER_M * scale)


@dataclass
class ArmFeedback:
    """Latest feedback of one arm. Times are wall-clock seconds (``time.time()``), as the SDK stamps them."""

    joints: np.ndarray  # (6,) rad
    gripper: float  # m
    joint_stamp: float
    gripper_stamp: float
    enabled: list[bool]  # six joint drivers
    arm_status: int  # 0x2A1 byte 1, 0 = normal
    err_code: int  # 0x2A1 bytes 6-7
    driver_error: bool  # any driver (or the gripper) reports its error bit

    @property
    def position(self) -> np.ndarray:
        """(7,) float64: six joints (rad) then the gripper (m)."""
        return np.append(self.joints, self.gripper)

    def age(self, now: float | None = None) -> float:
        """Seconds since the older of the joint and gripper feedback (inf if never received)."""
        stamp = min(self.joint_stamp, self.gripper_stamp)
        if stamp <= 0:
            return math.inf
        return (time.time() if now is None else now) - stamp


class PiperArm:
    """Connect, enable, command and read one Piper arm through piper_sdk.

    Thread-safe: every SDK call goes through one lock (the SDK shares one tx message object).
    """

    def __init__(self, config: ArmConfig) -> None:
        self.config = config
        self.name = config.name
        self._lock = threading.Lock()
        self._sdk = None
        self._can = None
        self._send_failures: list[str] = []

    # ------------------------------------------------------------------ connection
    def connect(self) -> None:
        """Create the SDK interface on the configured bus and start its reader thread."""
        from piper_sdk import C_PiperInterface_V2  # imported here: optional dependency

        cfg = self.config
        if cfg.can_interface in C_PiperInterface_V2._instances:
            # A stale singleton from an earlier session: tear it down so we start clean.
            _forget_instance(C_PiperInterface_V2._instances[cfg.can_interface], cfg.can_interface)
        sdk = C_PiperInterface_V2(cfg.can_interface, judge_flag=False, can_auto_init=False)
        judge = cfg.check_interface and cfg.bustype == "socketcan"
        try:
            sdk.CreateCanBus(cfg.can_interface, bustype=cfg.bustype, judge_flag=judge)
        except ConnectionError as e:
            C_PiperInterface_V2._instances.pop(cfg.can_interface, None)
            raise CanBusError(
                f"{self.name} arm: cannot open CAN interface '{cfg.can_interface}' ({cfg.bustype}); expected an "
                f"interface that is up at 1 Mbit/s (e.g. `sudo ip link set {cfg.can_interface} up type can "
                f"bitrate 1000000`): {e}"
            ) from e
        self._can = getattr(sdk, _SDK_PREFIX + "arm_can", None)
        if self._can is not None:
            if cfg.bustype == "virtual" and self._can.send_bus is not self._can.recv_bus:
                self._can.send_bus.shutdown()  # nothing would ever drain its receive queue
                self._can.send_bus = self._can.recv_bus
            self._wrap_send(self._can)
        sdk.ConnectPort(can_init=False, piper_init=False, start_thread=True)
        self._sdk = sdk

    def _wrap_send(self, can_obj: object) -> None:
        original = can_obj.SendCanMessage
        ok = can_obj.CAN_STATUS.SEND_MESSAGE_SUCCESS

        def checked_send(arbitration_id: int, data: list[int], *args: object, **kwargs: object) -> object:
            status = original(arbitration_id, data, *args, **kwargs)
            if status is not ok:
                self._send_failures.append(f"0x{arbitration_id:03X}: {status}")
            return status

        can_obj.SendCanMessage = checked_send

    def close(self) -> None:
        """Stop the SDK's threads, close the bus and forget the per-name singleton."""
        with self._lock:
            if self._sdk is not None:
                _forget_instance(self._sdk, self.config.can_interface)
            self._sdk = None
            self._can = None

    @property
    def connected(self) -> bool:
        return self._sdk is not None

    def _require(self):  # noqa: ANN202 - the SDK object
        if self._sdk is None:
            raise CanBusError(f"{self.name} arm on '{self.config.can_interface}' is not connected; call connect()")
        return self._sdk

    def check_bus(self) -> None:
        """Raise ``CanBusError`` if any frame failed to go out since the last check."""
        if self._send_failures:
            failures, self._send_failures = self._send_failures, []
            raise CanBusError(
                f"{self.name} arm: {len(failures)} CAN frame(s) failed to send on "
                f"'{self.config.can_interface}' (first: {failures[0]})"
            )

    # ------------------------------------------------------------------ enable / disable
    def enable(self, timeout: float = 5.0) -> None:
        """Send enable (0x471, all motors) until all six drivers report enabled; raise on timeout.

        Only driver frames received after the first enable command count (the SDK caches old bits).
        """
        sdk = self._require()
        deadline = time.monotonic() + timeout
        sent_at = time.time()
        while True:
            with self._lock:
                sdk.EnableArm(7, 0x02)
                status = list(sdk.GetArmEnableStatus())
                fresh = float(sdk.GetArmLowSpdInfoMsgs().time_stamp) > sent_at
            self.check_bus()
            if fresh and all(status):
                return
            if time.monotonic() > deadline:
                off = [f"j{i + 1}" for i, on in enumerate(status) if not on or not fresh]
                raise ArmEnableError(
                    f"{self.name} arm on '{self.config.can_interface}': joint drivers {off} did not report "
                    f"enabled within {timeout:.1f} s (expected all six; is the arm powered and the CAN wired?)"
                )
            time.sleep(0.02)

    def wait_ready(self, max_age: float, timeout: float) -> ArmFeedback:
        """Poll until the feedback is fresher than ``max_age`` s and reports no fault; raise after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            fb = self.read()
            fresh = fb.age() <= max_age
            try:
                self.check_fault(fb)
                if fresh:
                    return fb
            except ArmFaultError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise FeedbackLostError(
                    f"{self.name} arm on '{self.config.can_interface}' sends no fresh feedback (last "
                    f"{fb.age() * 1000:.0f} ms ago, expected < {max_age * 1000:.0f} ms); is it powered?"
                )
            time.sleep(0.005)

    def disable(self, gripper_hold: float | None = None) -> None:
        """Disable the six joints (0x471) and the gripper (0x159 with code 0x00).

        ``gripper_hold``: opening (m, already within limits) written into the gripper frame.
        """
        sdk = self._require()
        with self._lock:
            sdk.DisableArm(7, 0x01)
            if gripper_hold is not None:
                sdk.GripperCtrl(m_to_um(gripper_hold, self.config.gripper_scale), 0, 0x00, 0x00)

    def emergency_stop(self) -> None:
        """Firmware quick stop (0x150, byte 0 = 0x01)."""
        with self._lock:
            self._require().EmergencyStop(0x01)

    def reset_after_emergency_stop(self) -> None:
        """Clear the e-stop (0x150, byte 0 = 0x02). The firmware powers the joints off: re-enable after."""
        with self._lock:
            self._require().EmergencyStop(0x02)

    # ------------------------------------------------------------------ command / feedback
    def command(self, position: np.ndarray) -> None:
        """Send one joint-space command: 0x151 (CAN, MOVE J), 0x155-0x157 joints, 0x159 gripper.

        Args:
            position: (7,) six joint targets (rad) and the gripper opening (m). Only ``SafetyFilter``
                calls this, after clamping and speed limiting.
        """
        sdk = self._require()
        cfg = self.config
        mdeg = rad_to_mdeg(position[:6])
        um = m_to_um(position[6], cfg.gripper_scale)
        with self._lock:
            sdk.MotionCtrl_2(0x01, 0x01, cfg.move_speed_percent, 0x00)
            sdk.JointCtrl(*mdeg)
            sdk.GripperCtrl(um, cfg.gripper_effort, 0x01, 0x00)
        self.check_bus()

    def read(self) -> ArmFeedback:
        """Latest joint, gripper, enable and status feedback."""
        sdk = self._require()
        with self._lock:
            jm = sdk.GetArmJointMsgs()
            js = jm.joint_state
            joints = mdeg_to_rad([js.joint_1, js.joint_2, js.joint_3, js.joint_4, js.joint_5, js.joint_6])
            jstamp = float(jm.time_stamp)
            gm = sdk.GetArmGripperMsgs()
            gripper = um_to_m(gm.gripper_state.grippers_angle, self.config.gripper_scale)
            gstamp = float(gm.time_stamp)
            g_err = bool(getattr(gm.gripper_state, "status_code", 0) & (1 << 5))
            low = sdk.GetArmLowSpdInfoMsgs()
            motors = [getattr(low, f"motor_{i}") for i in range(1, 7)]
            enabled = [bool(m.foc_status.driver_enable_status) for m in motors]
            d_err = any(bool(m.foc_status.driver_error_status) for m in motors)
            st = sdk.GetArmStatus().arm_status
            arm_status = int(getattr(st.arm_status, "value", st.arm_status))
            err_code = int(st.err_code)
        return ArmFeedback(joints, gripper, jstamp, gstamp, enabled, arm_status, err_code, d_err or g_err)

    def check_fault(self, fb: ArmFeedback) -> None:
        """Raise ``ArmFaultError`` if the firmware reports an error."""
        if fb.arm_status not in (0x00,) or fb.err_code != 0 or fb.driver_error:
            raise ArmFaultError(
                f"{self.name} arm reports a fault: arm_status=0x{fb.arm_status:02X} (expected 0x00 normal), "
                f"err_code=0x{fb.err_code:04X}, driver_error={fb.driver_error}"
            )


def _forget_instance(sdk: object, can_name: str) -> None:
    """Stop an SDK instance's threads, close its bus and drop it from the singleton table."""
    try:
        sdk.DisconnectPort(thread_timeout=0.0)
    except Exception:  # noqa: BLE001 - best effort on teardown
        pass
    monitor_stop = getattr(sdk, _SDK_PREFIX + "can_monitor_stop_event", None)
    if monitor_stop is not None:
        monitor_stop.set()  # DisconnectPort leaves the monitor thread running
    fps = getattr(sdk, _SDK_PREFIX + "fps_counter", None)
    if fps is not None and hasattr(fps, "stop"):
        try:
            fps.stop()
        except Exception:  # noqa: BLE001
            pass
    type(sdk)._instances.pop(can_name, None)

"""Fault handling against the simulated firmware: every fault ends in a safe stop with a clear error.

The one timing bound asserted is the documented watchdog bound: a silent arm is held (and, with
``hold_before_disable_s = 0``, disabled) within 100 ms of its feedback stopping.
"""

import os
import signal
import time

import can
import numpy as np
import pytest

from rise_agents.envs.agilex import (
    AgileXFault,
    ArmFaultError,
    CameraLostError,
    CanBusError,
    CommandTimeoutError,
    EmergencyStopError,
    FeedbackLostError,
)

DISABLE = bytes([0x07, 0x01, 0, 0, 0, 0, 0, 0])


def hold_chunk(state, horizon):
    return np.tile(np.asarray(state, dtype=np.float64), (horizon, 1))


def sine_chunk(state, horizon, amp=0.15):
    chunk = hold_chunk(state, horizon)
    chunk[:, 0] += amp * np.sin(np.linspace(0, 2 * np.pi, horizon))
    chunk[:, 7] += amp * np.sin(np.linspace(0, 2 * np.pi, horizon))
    return chunk


def wait_for(cond, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return False


def disabled_at(spy):
    times = [t for t, d in spy.sent(0x471) if d == DISABLE]
    return times[0] if times else None


def test_watchdog_disables_a_silent_arm_within_100ms(make_rig, spies):
    rig = make_rig(hold_before_disable_s=0.0, feedback_timeout_s=0.05)
    env = rig.env
    left, right = spies(rig)
    obs, _ = env.reset()
    env.submit_chunk(sine_chunk(obs["state"], 10))
    time.sleep(0.1)
    t_silent = time.monotonic()
    rig.left.go_silent()
    assert wait_for(lambda: disabled_at(left) is not None and disabled_at(right) is not None)
    assert env.executor.fault_time - t_silent <= 0.100
    assert disabled_at(left) - t_silent <= 0.100, f"disabled after {disabled_at(left) - t_silent:.3f} s"
    with pytest.raises(FeedbackLostError, match=r"left arm .*no joint/gripper feedback .*watchdog timeout 50 ms"):
        env.step(hold_chunk(obs["state"], 10))
    # it recovers once the arm talks again
    rig.left.go_silent(False)
    obs, _ = env.reset()
    env.step(hold_chunk(obs["state"], 10))


def test_watchdog_holds_then_disables(make_rig, spies):
    rig = make_rig(hold_before_disable_s=0.3, feedback_timeout_s=0.05)
    env = rig.env
    left, right = spies(rig)
    obs, _ = env.reset()
    env.submit_chunk(sine_chunk(obs["state"], 10))
    time.sleep(0.1)
    t_silent = time.monotonic()
    rig.right.go_silent()
    with pytest.raises(FeedbackLostError, match="right arm"):
        env.step(sine_chunk(obs["state"], 10))
    assert env.executor.fault_time - t_silent <= 0.100
    assert wait_for(lambda: disabled_at(right) is not None)
    t_dis = disabled_at(right)
    assert 0.3 <= t_dis - env.executor.fault_time <= 1.0
    # between the fault and the disable every joint command is the same hold position
    held = {d for t, d in right.sent(0x155) if env.executor.fault_time + 0.002 < t < t_dis}
    assert len(held) == 1
    assert left.failure is None and right.failure is None


def test_stalled_camera_is_an_error_not_a_frozen_image(make_rig, spies):
    rig = make_rig()
    env = rig.env
    left, _ = spies(rig)
    obs, _ = env.reset()
    env.cameras[1].stall()
    with pytest.raises(CameraLostError, match=r"camera 'left_wrist' delivered no new frame .*timeout 300 ms"):
        env.step(hold_chunk(obs["state"], 10))
        env.step(hold_chunk(obs["state"], 10))
    assert wait_for(lambda: disabled_at(left) is not None)


def test_can_send_error_stops_safely(make_rig, spies):
    rig = make_rig()
    env = rig.env
    _, right = spies(rig)
    obs, _ = env.reset()
    bus = env.arms[0]._can.send_bus

    def broken_send(msg, timeout=None):
        raise can.CanOperationError("bus-off (simulated)")

    bus.send = broken_send
    with pytest.raises(CanBusError, match=r"left arm: \d+ CAN frame\(s\) failed to send"):
        env.step(hold_chunk(obs["state"], 10))
    assert wait_for(lambda: disabled_at(right) is not None)  # the healthy arm is disabled too


def test_firmware_fault_stops_safely(make_rig, spies):
    rig = make_rig(hold_before_disable_s=0.0)
    env = rig.env
    left, _ = spies(rig)
    obs, _ = env.reset()
    rig.left.set_fault(arm_status=0x05, err_code=0x0100)
    with pytest.raises(ArmFaultError, match=r"left arm reports a fault: arm_status=0x05"):
        env.step(hold_chunk(obs["state"], 10))
    assert wait_for(lambda: disabled_at(left) is not None)


def test_command_watchdog(make_rig, spies):
    rig = make_rig(command_timeout_s=0.2, hold_before_disable_s=0.0)
    env = rig.env
    left, _ = spies(rig)
    obs, _ = env.reset()
    assert wait_for(lambda: disabled_at(left) is not None)
    with pytest.raises(CommandTimeoutError, match="no new action chunk"):
        env.step(hold_chunk(obs["state"], 10))


def test_emergency_stop_and_recovery(make_rig, spies):
    rig = make_rig()
    env = rig.env
    left, right = spies(rig)
    obs, _ = env.reset()
    env.emergency_stop("operator pressed stop")
    assert wait_for(lambda: left.sent(0x150) and right.sent(0x150))
    assert left.sent(0x150)[0][1][0] == 0x01 and right.sent(0x150)[0][1][0] == 0x01
    n_motion = len(left.sent(0x155))
    time.sleep(0.15)
    assert len(left.sent(0x155)) == n_motion  # no motion command after the e-stop
    with pytest.raises(EmergencyStopError, match="operator pressed stop"):
        env.step(hold_chunk(obs["state"], 10))
    obs, _ = env.reset()  # clears the e-stop (0x150 0x02), re-enables
    assert [d[0] for _, d in left.sent(0x150)][-1] == 0x02
    env.step(hold_chunk(obs["state"], 10))


def test_sigint_stops_safely_and_restores_the_handler(make_rig):
    previous = signal.getsignal(signal.SIGINT)
    rig = make_rig(hold_before_disable_s=0.0)
    with pytest.raises(KeyboardInterrupt):
        with rig:
            rig.env.reset()
            assert signal.getsignal(signal.SIGINT) is not previous
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the handler raises KeyboardInterrupt here
    assert isinstance(rig.env.executor.fault, AgileXFault) and "SIGINT" in str(rig.env.executor.fault)
    assert signal.getsignal(signal.SIGINT) is previous

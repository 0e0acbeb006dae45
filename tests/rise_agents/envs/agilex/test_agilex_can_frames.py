"""Exact CAN frames (arbitration id + payload) the Piper adapter sends, on python-can's virtual bus."""

import struct
import time

import numpy as np
import pytest

from rise_agents.envs.agilex.config import ArmConfig
from rise_agents.envs.agilex.errors import ArmEnableError, CanBusError
from rise_agents.envs.agilex.piper_arm import PiperArm, m_to_um, mdeg_to_rad, rad_to_mdeg, um_to_m
from rise_agents.envs.agilex.sim_firmware import BusSpy, SimulatedPiperFirmware
from rise_agents.envs.agilex.sim_rig import unique_prefix


def _wait_for(cond, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return False


@pytest.fixture
def arm_on_bus():
    """(arm, firmware, spy) on a fresh virtual channel."""
    channel = unique_prefix("frames")
    fw = SimulatedPiperFirmware(channel, feedback_hz=100.0, initial_joints=[0.0, 0.5, -0.5, 0, 0, 0]).start()
    spy = BusSpy(channel)
    arm = PiperArm(ArmConfig(name="left", can_interface=channel, bustype="virtual", check_interface=False,
                             move_speed_percent=100, gripper_effort=1000))
    arm.connect()
    yield arm, fw, spy
    arm.close()
    spy.close()
    fw.stop()


def test_unit_conversions_round_trip():
    assert rad_to_mdeg(np.array([1.0, -0.5, 0.0])) == [57296, -28648, 0]
    np.testing.assert_allclose(mdeg_to_rad([57296]), [57296 * np.pi / 180000], rtol=1e-12)
    assert m_to_um(0.07) == 70000 and m_to_um(0.035, scale=2.0) == 70000
    assert um_to_m(35000) == pytest.approx(0.035)


def test_command_frames_are_exact(arm_on_bus):
    arm, fw, spy = arm_on_bus
    arm.command(np.array([0.1, 0.5, -0.5, 0.2, -0.3, 1.0, 0.03]))
    assert _wait_for(lambda: spy.sent(0x159))
    assert spy.sent(0x151)[-1][1] == bytes([0x01, 0x01, 100, 0x00, 0, 0, 0, 0])  # CAN mode, MOVE J, 100 %
    j = [int(round(v * 180000 / np.pi)) for v in (0.1, 0.5, -0.5, 0.2, -0.3, 1.0)]
    assert spy.sent(0x155)[-1][1] == struct.pack(">ii", j[0], j[1])
    assert spy.sent(0x156)[-1][1] == struct.pack(">ii", j[2], j[3])
    assert spy.sent(0x157)[-1][1] == struct.pack(">ii", j[4], j[5])
    # gripper: 0.03 m = 30000 um, effort 1000, code 0x01 (enable; the SDK default 0 would disable)
    assert spy.sent(0x159)[-1][1] == struct.pack(">iHBB", 30000, 1000, 0x01, 0x00)
    order = [i for _, i, _ in spy.frames if i in (0x151, 0x155, 0x156, 0x157, 0x159)]
    assert order == [0x151, 0x155, 0x156, 0x157, 0x159]  # mode frame precedes the joint frames


def test_enable_polls_driver_bits_then_disable_and_estop_frames(arm_on_bus):
    arm, fw, spy = arm_on_bus
    assert _wait_for(lambda: arm.read().age() < 0.5)
    assert not any(arm.read().enabled)
    arm.enable(timeout=3.0)
    assert all(arm.read().enabled) and fw.snapshot().enabled.all()
    assert spy.sent(0x471)[0][1] == bytes([0x07, 0x02, 0, 0, 0, 0, 0, 0])
    arm.disable(gripper_hold=0.02)
    arm.emergency_stop()
    assert _wait_for(lambda: spy.sent(0x150))
    assert [d for _, d in spy.sent(0x471)][-1] == bytes([0x07, 0x01, 0, 0, 0, 0, 0, 0])
    assert spy.sent(0x159)[-1][1] == struct.pack(">iHBB", 20000, 0, 0x00, 0x00)  # gripper disabled
    assert spy.sent(0x150)[-1][1] == bytes([0x01, 0x00, 0x00, 0, 0, 0, 0, 0])
    assert _wait_for(lambda: not any(arm.read().enabled))


def test_feedback_is_decoded_in_si_units(arm_on_bus):
    arm, fw, spy = arm_on_bus
    arm.enable(timeout=3.0)
    arm.command(np.array([0.3, 1.0, -1.0, 0.0, 0.5, -0.5, 0.05]))
    assert _wait_for(lambda: abs(arm.read().joints[0] - 0.3) < 1e-3 and abs(arm.read().gripper - 0.05) < 1e-4)
    fb = arm.read()
    np.testing.assert_allclose(fb.position, [0.3, 1.0, -1.0, 0.0, 0.5, -0.5, 0.05], atol=1e-3)
    assert fb.age() < 0.5 and fb.arm_status == 0 and not fb.driver_error


def test_enable_times_out_with_clear_error():
    channel = unique_prefix("noarm")
    arm = PiperArm(ArmConfig(name="right", can_interface=channel, bustype="virtual", check_interface=False))
    arm.connect()
    try:
        with pytest.raises(ArmEnableError, match=r"right arm .*j1.*did not report enabled"):
            arm.enable(timeout=0.2)
    finally:
        arm.close()


def test_missing_socketcan_interface_is_a_clear_error():
    arm = PiperArm(ArmConfig(name="left", can_interface="rise_no_such_can9", bustype="socketcan"))
    with pytest.raises(CanBusError, match="cannot open CAN interface 'rise_no_such_can9'"):
        arm.connect()
    assert not arm.connected

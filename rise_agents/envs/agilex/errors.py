"""Errors raised by the AgileX rig. Every fault that stops the robot is an ``AgileXFault``."""

from __future__ import annotations


class AgileXError(RuntimeError):
    """Base class of every error raised by the AgileX env and its parts."""


class AgileXFault(AgileXError):
    """A fault that brought the arms to a safe stop (held, then disabled)."""


class FeedbackLostError(AgileXFault):
    """An arm stopped sending joint or gripper feedback within the watchdog timeout."""


class CommandTimeoutError(AgileXFault):
    """No new action chunk arrived within the command watchdog timeout."""


class CameraLostError(AgileXFault):
    """A camera delivered no new frame within its timeout (never a frozen image)."""


class CanBusError(AgileXFault):
    """A CAN frame could not be sent, or the bus could not be opened."""


class ArmFaultError(AgileXFault):
    """The arm firmware reported an error (status error code or a driver error bit)."""


class EmergencyStopError(AgileXFault):
    """The emergency stop was triggered (API call, SIGINT or a fault handler)."""


class ArmEnableError(AgileXError):
    """The arm's six joint drivers did not all report 'enabled' within the timeout."""

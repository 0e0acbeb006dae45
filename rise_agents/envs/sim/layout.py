"""Geometry of the simulated AgileX rig and the Dynamic Brick Sorting scene.

World frame: the table top is the plane z = 0, the robot looks along +x, its left is +y.
Both Piper-like arms stand on pedestals on the table at x = 0, y = +/- ``arm_y``. The conveyor runs
across the front of the robot from the left (+y, upstream) to the right (-y); the blue bin
stands beside the left arm, the yellow bin beside the right arm. All lengths in metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARMS: tuple[str, ...] = ("left", "right")


@dataclass(frozen=True)
class ArmGeometry:
    """Piper-like link lengths (DH-ish dimensions of the AgileX Piper)."""

    base_height: float = 0.123  # table to shoulder (joint 2) axis
    upper_arm: float = 0.285  # joint 2 -> joint 3
    forearm: float = 0.25  # joint 3 -> wrist centre (joints 4/5)
    wrist_to_flange: float = 0.09  # wrist centre -> flange (joint 6)
    palm_length: float = 0.05  # flange -> finger roots
    finger_length: float = 0.08
    finger_thickness: float = 0.01
    finger_depth: float = 0.02
    grasp_depth: float = 0.12  # flange -> grasp site (between the finger pads, 1 cm above the tips)
    max_finger_travel: float = 0.035  # per finger; opening width = 2 x travel (0-0.07 m)


@dataclass(frozen=True)
class SceneLayout:
    """Where the table, arms, conveyor, bins and cameras are."""

    arm: ArmGeometry = field(default_factory=ArmGeometry)
    arm_y: float = 0.30
    pedestal_height: float = 0.10  # each arm is bolted onto a block on the table
    table_x: tuple[float, float] = (-0.25, 0.68)
    table_y: tuple[float, float] = (-0.80, 0.80)
    # Conveyor: a box whose top is the belt surface.
    belt_x: float = 0.28  # centre line
    belt_half_width: float = 0.07
    belt_y: tuple[float, float] = (-0.60, 0.60)  # downstream end, upstream end
    belt_top: float = 0.05
    n_belt_stripes: int = 10
    # Bricks: boxes (half extents), spawned at the upstream end.
    brick_half: tuple[float, float, float] = (0.03, 0.016, 0.012)
    brick_mass: float = 0.03
    spawn_y: float = 0.55
    spawn_x_jitter: float = 0.02
    # Bins: open boxes on the table (centre, inner half size, wall height, wall thickness).
    bin_centres: tuple[tuple[float, float], ...] = ((0.10, 0.50), (0.10, -0.50))
    bin_inner_half: float = 0.07
    bin_wall_height: float = 0.06
    bin_wall: float = 0.008
    # Top camera: centred above the work area, ~0.75 m above the table, looking down.
    top_camera_pos: tuple[float, float, float] = (0.22, 0.0, 0.75)
    top_camera_fovy: float = 66.0
    wrist_camera_fovy: float = 75.0

    def arm_base(self, arm: str) -> tuple[float, float, float]:
        """Base position of ``arm`` ('left' | 'right') on the table."""
        return (0.0, self.arm_y if arm == "left" else -self.arm_y, self.pedestal_height)

    def bin_of_arm(self, arm: str) -> int:
        """Index of the bin beside ``arm``."""
        return ARMS.index(arm)

    @property
    def belt_z_centre(self) -> float:
        return self.belt_top / 2.0


# Brick colours and the bin (= arm side) each belongs to.
COLOURS: dict[str, tuple[float, float, float, float]] = {
    "blue": (0.12, 0.32, 0.90, 1.0),
    "yellow": (0.96, 0.80, 0.10, 1.0),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
# Bin i collects colour COLOUR_NAMES[i]: bin 0 (left) blue, bin 1 (right) yellow.
BIN_COLOURS: tuple[str, ...] = COLOUR_NAMES

"""MJCF of the AgileX digital twin, generated from primitives (no meshes).

Two Piper-like 6-DoF arms (joint conventions chosen so the hardware limits of
``rise_env.spec`` describe the reachable workspace) with parallel grippers, a table, a
conveyor, two colour-coded bins, the bricks, a top camera and one camera per wrist.

Joint conventions of one arm (all angles in rad, arm looking along +x at j1 = 0):
- j1 yaw about the vertical; j2 raises the upper arm from horizontal-forward (0) through
  vertical (pi/2); j3 unfolds the forearm from folded back on the upper arm (0) to straight
  (-pi); j4 rolls the forearm, j5 pitches the wrist, j6 rolls the flange.
- The gripper's two fingers slide symmetrically (equality constraint); one position actuator
  drives the first finger, so the action's gripper value (opening width, m) is twice the
  finger travel.
"""

from __future__ import annotations

import math

from rise_agents.envs.sim.layout import ARMS, COLOURS, SceneLayout
from rise_env.spec import ARM_JOINT_LIMITS

CONTROL_HZ = 30
PHYSICS_SUBSTEPS = 10
TIMESTEP = 1.0 / (CONTROL_HZ * PHYSICS_SUBSTEPS)

# Position-servo gains per arm joint (N m / rad and N m s / rad).
ARM_KP = (1000.0, 1000.0, 800.0, 200.0, 200.0, 150.0)
ARM_KV = (30.0, 30.0, 24.0, 4.0, 4.0, 3.0)
ARM_ARMATURE = (0.05, 0.05, 0.05, 0.02, 0.02, 0.02)
GRIPPER_KP = 400.0
GRIPPER_KV = 8.0

PARK_Z = -0.7  # parked (not yet spawned) bricks rest on the floor, out of every camera's view
FLOOR_Z = -0.75
ARM_RGBA = "0.78 0.79 0.80 1"
JOINT_RGBA = "0.15 0.15 0.17 1"


def _f(*values: float) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def parked_position(index: int) -> tuple[float, float, float]:
    """Where brick ``index`` rests before it is spawned (on the floor, far from the rig)."""
    return (-3.0, -1.0 + 0.25 * index, FLOOR_Z + 0.05)


def _finger(prefix: str, side: int, geo) -> str:
    """One finger: slides along +/-y of the flange frame; inner pad at y = +/- travel."""
    t, d = geo.finger_thickness / 2.0, geo.finger_depth / 2.0
    half_len = geo.finger_length / 2.0
    name = f"{prefix}_finger{1 if side > 0 else 2}"
    return f"""
        <body name="{name}" pos="{_f(geo.palm_length, 0, 0)}">
          <joint name="{name}" type="slide" axis="0 {side} 0" range="0 {geo.max_finger_travel}"
                 armature="0.01" damping="0.5"/>
          <geom name="{name}" class="finger" type="box" size="{_f(half_len, t, d)}"
                pos="{_f(half_len, side * t, 0)}"/>
        </body>"""


def _arm(prefix: str, layout: SceneLayout) -> str:
    geo = layout.arm
    bx, by, bz = layout.arm_base(prefix)
    lim = ARM_JOINT_LIMITS
    tilt = math.radians(20.0)
    s, c = math.sin(tilt), math.cos(tilt)
    palm_half = (geo.palm_length / 2.0, 0.045, 0.02)
    return f"""
    <geom class="visual" type="box" size="0.07 0.07 {bz / 2}" pos="{_f(bx, by, bz / 2)}" rgba="0.3 0.3 0.32 1"/>
    <body name="{prefix}_base" pos="{_f(bx, by, bz)}">
      <geom class="visual" type="cylinder" size="0.055 0.045" pos="0 0 0.045" rgba="{JOINT_RGBA}"/>
      <body name="{prefix}_link1" pos="0 0 {geo.base_height}" gravcomp="1">
        <joint name="{prefix}_joint1" axis="0 0 1" range="{_f(*lim[0])}" armature="{ARM_ARMATURE[0]}"/>
        <geom class="visual" type="cylinder" size="0.045 0.04" pos="0 0 -0.04" rgba="{ARM_RGBA}"/>
        <geom class="visual" type="cylinder" size="0.04 0.045" euler="1.5708 0 0" rgba="{JOINT_RGBA}"/>
        <body name="{prefix}_link2" gravcomp="1">
          <joint name="{prefix}_joint2" axis="0 -1 0" range="{_f(*lim[1])}" armature="{ARM_ARMATURE[1]}"/>
          <geom class="visual" type="capsule" size="0.03" fromto="0 0 0 {geo.upper_arm} 0 0"
                rgba="{ARM_RGBA}"/>
          <body name="{prefix}_link3" pos="{geo.upper_arm} 0 0" gravcomp="1">
            <joint name="{prefix}_joint3" axis="0 1 0" range="{_f(*lim[2])}"
                   armature="{ARM_ARMATURE[2]}"/>
            <geom class="visual" type="cylinder" size="0.032 0.04" euler="1.5708 0 0" rgba="{JOINT_RGBA}"/>
            <geom class="visual" type="capsule" size="0.025" fromto="0 0 0 {-geo.forearm} 0 0"
                  rgba="{ARM_RGBA}"/>
            <body name="{prefix}_link4" pos="{-geo.forearm} 0 0" quat="0 0 0 1" gravcomp="1">
              <joint name="{prefix}_joint4" axis="1 0 0" range="{_f(*lim[3])}"
                     armature="{ARM_ARMATURE[3]}"/>
              <inertial pos="0 0 0" mass="0.05" diaginertia="2e-5 2e-5 2e-5"/>
              <body name="{prefix}_link5" gravcomp="1">
                <joint name="{prefix}_joint5" axis="0 1 0" range="{_f(*lim[4])}"
                       armature="{ARM_ARMATURE[4]}"/>
                <geom class="visual" type="sphere" size="0.03" rgba="{JOINT_RGBA}"/>
                <geom class="visual" type="capsule" size="0.024"
                      fromto="0 0 0 {geo.wrist_to_flange - 0.01} 0 0" rgba="{ARM_RGBA}"/>
                <body name="{prefix}_link6" pos="{geo.wrist_to_flange} 0 0" gravcomp="1">
                  <joint name="{prefix}_joint6" axis="1 0 0" range="{_f(*lim[5])}"
                         armature="{ARM_ARMATURE[5]}"/>
                  <geom name="{prefix}_palm" class="gripper" type="box" size="{_f(*palm_half)}"
                        pos="{_f(palm_half[0], 0, 0)}"/>
                  <site name="{prefix}_grasp" pos="{geo.grasp_depth} 0 0" size="0.004" rgba="1 0 0 0"/>
                  <camera name="{prefix}_wrist" pos="{geo.palm_length} 0 0.035" xyaxes="{_f(0, 1, 0, -s, 0, -c)}"
                          fovy="{layout.wrist_camera_fovy}"/>
                  {_finger(prefix, 1, geo)}
                  {_finger(prefix, -1, geo)}
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>"""


def _bin(index: int, layout: SceneLayout, colour: str) -> str:
    cx, cy = layout.bin_centres[index]
    r, w, h = layout.bin_inner_half, layout.bin_wall / 2.0, layout.bin_wall_height / 2.0
    rgba = _f(*COLOURS[colour][:3], 1.0)
    outer = r + w
    walls = [
        (outer, 0.0, w, outer),
        (-outer, 0.0, w, outer),
        (0.0, outer, outer, w),
        (0.0, -outer, outer, w),
    ]
    geoms = "".join(
        f'\n      <geom class="world" type="box" size="{_f(sx, sy, h)}" pos="{_f(x, y, h)}" rgba="{rgba}"/>'
        for x, y, sx, sy in walls
    )
    return f"""
    <body name="bin{index}" pos="{_f(cx, cy, 0)}">
      <geom class="world" type="box" size="{_f(outer, outer, 0.0025)}" pos="0 0 0.0025"
            rgba="0.85 0.85 0.82 1"/>{geoms}
    </body>"""


def _belt(layout: SceneLayout) -> str:
    y0, y1 = layout.belt_y
    half_len = (y1 - y0) / 2.0
    cy = (y0 + y1) / 2.0
    hz = layout.belt_top / 2.0
    frame = f"""
    <geom name="belt" type="box" size="{_f(layout.belt_half_width, half_len, hz)}"
          pos="{_f(layout.belt_x, cy, hz)}" rgba="0.18 0.18 0.2 1" priority="1" condim="1"
          contype="1" conaffinity="1"/>
    <geom class="visual" type="cylinder" size="{_f(layout.belt_top / 2 + 0.004, layout.belt_half_width + 0.005)}"
          pos="{_f(layout.belt_x, y0, hz)}" euler="0 1.5708 0" rgba="0.5 0.5 0.52 1"/>
    <geom class="visual" type="cylinder" size="{_f(layout.belt_top / 2 + 0.004, layout.belt_half_width + 0.005)}"
          pos="{_f(layout.belt_x, y1, hz)}" euler="0 1.5708 0" rgba="0.5 0.5 0.52 1"/>"""
    stripes = "".join(
        f"""
    <body name="stripe{k}" mocap="true" pos="{_f(layout.belt_x, y0, layout.belt_top + 0.0006)}">
      <geom class="visual" type="box" size="{_f(layout.belt_half_width - 0.004, 0.006, 0.0005)}"
            rgba="0.42 0.42 0.45 1"/>
    </body>"""
        for k in range(layout.n_belt_stripes)
    )
    return frame + stripes


def _bricks(layout: SceneLayout, num_bricks: int) -> str:
    hx, hy, hz = layout.brick_half
    out = []
    for i in range(num_bricks):
        px, py, pz = parked_position(i)
        out.append(
            f"""
    <body name="brick{i}" pos="{_f(px, py, pz)}">
      <freejoint name="brick{i}"/>
      <geom name="brick{i}" class="world" type="box" size="{_f(hx, hy, hz)}" mass="{layout.brick_mass}"
            rgba="{_f(*COLOURS["blue"])}"/>
    </body>"""
        )
    return "".join(out)


def build_mjcf(layout: SceneLayout, num_bricks: int) -> str:
    """MJCF text of the whole scene with ``num_bricks`` brick bodies."""
    if num_bricks < 1:
        raise ValueError(f"num_bricks must be >= 1, got {num_bricks}")
    tx0, tx1 = layout.table_x
    ty0, ty1 = layout.table_y
    table_half = ((tx1 - tx0) / 2.0, (ty1 - ty0) / 2.0, 0.02)
    table_centre = ((tx1 + tx0) / 2.0, (ty1 + ty0) / 2.0, -0.02)
    actuators = []
    for arm in ARMS:
        for j in range(6):
            lo, hi = ARM_JOINT_LIMITS[j]
            actuators.append(
                f'<position name="{arm}_joint{j + 1}" joint="{arm}_joint{j + 1}" kp="{ARM_KP[j]}" '
                f'kv="{ARM_KV[j]}" ctrlrange="{_f(lo, hi)}"/>'
            )
        actuators.append(
            f'<position name="{arm}_gripper" joint="{arm}_finger1" kp="{GRIPPER_KP}" kv="{GRIPPER_KV}" '
            f'ctrlrange="0 {layout.arm.max_finger_travel}" forcerange="-20 20"/>'
        )
    equalities = "".join(
        f'\n    <joint joint1="{arm}_finger2" joint2="{arm}_finger1" polycoef="0 1 0 0 0"/>' for arm in ARMS
    )
    return f"""<mujoco model="rise_agilex_brick_sorting">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP!r}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <global offwidth="1280" offheight="960"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.35 0.35 0.35" specular="0 0 0"/>
  </visual>
  <default>
    <default class="visual">
      <geom contype="0" conaffinity="0" group="1"/>
    </default>
    <default class="world">
      <geom contype="1" conaffinity="1" friction="1 0.005 0.0001"/>
    </default>
    <default class="gripper">
      <geom contype="2" conaffinity="1" rgba="0.2 0.2 0.22 1" friction="1 0.005 0.0001"/>
    </default>
    <default class="finger">
      <geom contype="2" conaffinity="1" rgba="0.1 0.1 0.1 1" condim="4" friction="1.5 0.02 0.001"/>
    </default>
    <joint damping="1.0"/>
  </default>
  <worldbody>
    <light directional="true" pos="0 0 2" dir="0 0 -1" diffuse="0.55 0.55 0.55" specular="0 0 0" castshadow="false"/>
    <geom name="floor" class="world" type="plane" size="5 5 0.1" pos="0 0 {FLOOR_Z}" rgba="0.55 0.56 0.58 1"/>
    <geom name="table" class="world" type="box" size="{_f(*table_half)}" pos="{_f(*table_centre)}"
          rgba="0.72 0.62 0.48 1"/>
    <camera name="top" pos="{_f(*layout.top_camera_pos)}" xyaxes="0 -1 0 1 0 0" fovy="{layout.top_camera_fovy}"/>
    {_belt(layout)}
    {_bin(0, layout, "blue")}
    {_bin(1, layout, "yellow")}
    {"".join(_arm(arm, layout) for arm in ARMS)}
    {_bricks(layout, num_bricks)}
  </worldbody>
  <equality>{equalities}
  </equality>
  <actuator>
    {chr(10).join("    " + a for a in actuators)}
  </actuator>
</mujoco>
"""

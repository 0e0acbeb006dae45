"""rise_agents: policies, learning algorithms, physical environments (MuJoCo twin, AgileX rig) and CLIs.

Importing this package registers ``RISE/BrickSortingSim-v0`` with Gymnasium.
"""

from rise_agents.envs import registration as _registration  # noqa: F401  (registers env ids)

__version__ = "0.1.0"

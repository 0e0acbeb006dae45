"""Gymnasium ids of the physical environments. String entry points keep this import-free."""

import gymnasium

gymnasium.register(
    id="RISE/BrickSortingSim-v0",
    entry_point="rise_agents.envs.sim.brick_sorting:BrickSortingSimEnv",
    disable_env_checker=False,
)

# The real rig (needs CAN interfaces and cameras) and the same env against simulated firmware.
gymnasium.register(id="RISE/AgileX-v0", entry_point="rise_agents.envs.agilex.env:AgileXEnv")
gymnasium.register(id="RISE/AgileXSim-v0", entry_point="rise_agents.envs.agilex.sim_rig:AgileXSimEnv")

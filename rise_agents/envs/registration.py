"""Gymnasium ids of the physical environments. String entry points keep this import-free."""

import gymnasium

gymnasium.register(
    id="RISE/BrickSortingSim-v0",
    entry_point="rise_agents.envs.sim.brick_sorting:BrickSortingSimEnv",
    disable_env_checker=False,
)

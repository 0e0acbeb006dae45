"""Gymnasium registration of the imagination envs, with string entry points (nothing heavy imported).

    import rise_env, gymnasium as gym
    env = gym.make("RISE/BrickSorting-v0")                        # the bundled default (CPU, offline)
    env = gym.make("RISE/BrickSorting-v0", world_model=DIR, initial_states=DIR)
    envs = gym.make_vec("RISE/BrickSorting-v0", num_envs=4)       # natively batched ImaginationVectorEnv

Only tasks with a working factory are registered.
"""

from __future__ import annotations

import gymnasium

ENVS = {
    "RISE/BrickSorting-v0": (
        "rise_env.envs.factory:make_brick_sorting_env",
        "rise_env.envs.factory:make_brick_sorting_vector_env",
    ),
}


def register_envs() -> list[str]:
    """Register every env of ``ENVS`` that is not registered yet; returns their ids.

    Episodes end by truncation after ``max_chunks`` (ImaginationEnvConfig, 2 by default) inside the
    env, so no TimeLimit wrapper is added. Seeded stepping on CPU is deterministic.
    """
    for env_id, (entry_point, vector_entry_point) in ENVS.items():
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point=entry_point,
            vector_entry_point=vector_entry_point,
            nondeterministic=False,
            disable_env_checker=False,
        )
    return list(ENVS)

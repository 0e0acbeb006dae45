"""Imagination environments: the natively batched vector env, its single-env facade, the SB3 adapter.

Names are imported on first use, so ``import rise_env`` (which registers the envs through
``rise_env.envs.registration``) does not import torch.
"""

from rise_env.utils.lazy import lazy_exports

__all__ = [
    "ImaginationEnv",
    "ImaginationEnvConfig",
    "ImaginationVectorEnv",
    "InitialStateBank",
    "make_brick_sorting_env",
    "make_brick_sorting_vector_env",
]

_LAZY = {
    "ImaginationEnvConfig": "rise_env.envs.config",
    "ImaginationEnv": "rise_env.envs.imagination_env",
    "InitialStateBank": "rise_env.envs.initial_states",
    "ImaginationVectorEnv": "rise_env.envs.vector_env",
    "make_brick_sorting_env": "rise_env.envs.factory",
    "make_brick_sorting_vector_env": "rise_env.envs.factory",
}
__getattr__ = lazy_exports(__name__, _LAZY)

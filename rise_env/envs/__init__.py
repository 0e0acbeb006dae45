"""Imagination environments: the natively batched vector env, its single-env facade, the SB3 adapter."""

from rise_env.envs.config import ImaginationEnvConfig
from rise_env.envs.imagination_env import ImaginationEnv
from rise_env.envs.initial_states import InitialStateBank
from rise_env.envs.vector_env import ImaginationVectorEnv

__all__ = ["ImaginationEnv", "ImaginationEnvConfig", "ImaginationVectorEnv", "InitialStateBank"]

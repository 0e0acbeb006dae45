"""Policies: the advantage-conditioned flow-matching VLA policy, its normalisation and EMA."""

from rise_agents.policies.advantage_policy import (
    AdvantageConditionedPolicy,
    PolicyConfig,
    PolicySample,
    get_policy_config,
)
from rise_agents.policies.batch import BATCH_KEYS, OBS_KEYS
from rise_agents.policies.ema import EMA
from rise_agents.policies.normalize import NormStats, QuantileNormalizer

__all__ = [
    "BATCH_KEYS",
    "EMA",
    "OBS_KEYS",
    "AdvantageConditionedPolicy",
    "NormStats",
    "PolicyConfig",
    "PolicySample",
    "QuantileNormalizer",
    "get_policy_config",
]

"""Policy evaluation in the twin (and later on the robot): chunk execution with blending, trials, results."""

from rise_agents.evaluation.chunks import ChunkExecutor
from rise_agents.evaluation.results import POLICY_RESULT_KEYS, validate_policy_result, wilson_interval
from rise_agents.evaluation.runner import EvalConfig, Evaluator

__all__ = [
    "POLICY_RESULT_KEYS",
    "ChunkExecutor",
    "EvalConfig",
    "Evaluator",
    "validate_policy_result",
    "wilson_interval",
]

"""How action chunks become a stream of per-tick commands: linear blending over overlaps
(paper Sec. X-B) and ACT-style temporal ensembling. Shared by the twin evaluator and the real rig."""

from rise_agents.execution.blending import (  # noqa: F401
    ensemble_weights,
    linear_blend,
    linear_blend_weights,
    make_planner,
    temporal_ensemble,
)

"""Metrics: PSNR, SSIM, optical-flow end-point error, controllability (video); Spearman, ROC-AUC, curves (value)."""

from rise_env.metrics.control import controllability_ratio, controllability_score
from rise_env.metrics.flow import (
    cosine_of_flows,
    dense_flow,
    epe_of_flows,
    flow_cosine,
    flow_epe,
    flow_speed,
    speed_of_flow,
)
from rise_env.metrics.image import psnr, ssim
from rise_env.metrics.value import EpisodeCurve, plot_value_curves, roc_auc, spearman, value_metrics

__all__ = [
    "EpisodeCurve",
    "controllability_ratio",
    "controllability_score",
    "cosine_of_flows",
    "dense_flow",
    "epe_of_flows",
    "flow_cosine",
    "flow_epe",
    "flow_speed",
    "plot_value_curves",
    "psnr",
    "roc_auc",
    "speed_of_flow",
    "spearman",
    "ssim",
    "value_metrics",
]

"""Video-prediction metrics: PSNR, SSIM, optical-flow end-point error, controllability."""

from rise_env.metrics.control import controllability_ratio, controllability_score
from rise_env.metrics.flow import dense_flow, flow_epe
from rise_env.metrics.image import psnr, ssim

__all__ = ["controllability_ratio", "controllability_score", "dense_flow", "flow_epe", "psnr", "ssim"]

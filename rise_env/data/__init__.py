"""LeRobotDataset v3.0 read/write (pyarrow + PyAV, no lerobot), stats, training windows, task-centric batching.

The torch-based parts (windows, sampler) are imported on first use, so writers (e.g. collection
workers) do not pay for importing torch.
"""

from rise_env.data.episode import Episode, EpisodeError, terminal_rewards, validate_episode
from rise_env.data.finalize import FinalizeReport, recover_finalize
from rise_env.data.layout import (
    ACTION,
    CODEBASE_VERSION,
    INTERVENTION,
    SOURCES,
    STATE,
    DatasetConfig,
    VideoConfig,
    build_features,
    video_key,
)
from rise_env.data.normalize import Normalizer
from rise_env.data.reader import EpisodeMeta, LeRobotDatasetReader
from rise_env.data.staging import StagingArea
from rise_env.data.writer import LeRobotDatasetWriter
from rise_env.utils.lazy import lazy_exports

__all__ = [
    "ACTION",
    "CODEBASE_VERSION",
    "INTERVENTION",
    "SOURCES",
    "STATE",
    "DatasetConfig",
    "DynamicsWindowDataset",
    "Episode",
    "EpisodeError",
    "EpisodeMeta",
    "FinalizeReport",
    "LeRobotDatasetReader",
    "LeRobotDatasetWriter",
    "Normalizer",
    "StagingArea",
    "TaskCentricBatchSampler",
    "ValueSampleDataset",
    "VideoConfig",
    "WindowConfig",
    "build_features",
    "episode_windows",
    "recover_finalize",
    "terminal_rewards",
    "validate_episode",
    "video_key",
    "window_indices",
]

_LAZY = {
    "DynamicsWindowDataset": "rise_env.data.windows",
    "ValueSampleDataset": "rise_env.data.windows",
    "WindowConfig": "rise_env.data.windows",
    "window_indices": "rise_env.data.windows",
    "episode_windows": "rise_env.data.windows",
    "TaskCentricBatchSampler": "rise_env.data.sampler",
}
__getattr__ = lazy_exports(__name__, _LAZY)

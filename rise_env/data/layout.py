"""LeRobotDataset v3.0 layout: paths, feature dictionary and the dataset configuration.

On disk (``root/``)::

    meta/info.json  meta/stats.json  meta/tasks.parquet
    meta/episodes/chunk-000/file-000.parquet
    data/chunk-XXX/file-XXX.parquet                      one row per frame, many episodes per file
    videos/observation.images.<camera>/chunk-XXX/file-XXX.mp4   episodes concatenated per camera
    staging/                                              crash-safe per-episode staging (ours)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rise_env.spec.robot import RobotSpec, agilex_cobot_magic

CODEBASE_VERSION = "v3.0"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
STAGING_DIR = "staging"

STATE = "observation.state"
ACTION = "action"
INTERVENTION = "intervention"
REWARD = "next.reward"
DONE = "next.done"
IMAGE_PREFIX = "observation.images."
SOURCES: tuple[str, ...] = ("demo", "rollout", "correction")
QUANTILES: tuple[float, ...] = (0.01, 0.10, 0.50, 0.90, 0.99)
STAT_KEYS: tuple[str, ...] = ("min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99")
# Finalised dataset directories, replaced together on finalize().
DATASET_DIRS: tuple[str, ...] = ("meta", "data", "videos")


def video_key(camera: str) -> str:
    """Feature key of a camera, e.g. 'top' -> 'observation.images.top'."""
    return IMAGE_PREFIX + camera


def next_chunk_file(chunk_index: int, file_index: int, chunks_size: int) -> tuple[int, int]:
    """Index of the next file: files roll over into a new chunk directory every ``chunks_size`` files."""
    if file_index >= chunks_size - 1:
        return chunk_index + 1, 0
    return chunk_index, file_index + 1


class VideoConfig(BaseModel):
    """How camera streams are encoded (PyAV/libx264; LeRobot decodes h264 with pyav or torchcodec)."""

    model_config = ConfigDict(frozen=True)

    codec: str = Field("libx264", description="PyAV encoder name (libx264 gives the 'h264' codec).")
    pix_fmt: str = Field("yuv420p", description="Pixel format of the stream; yuv420p needs even H and W.")
    crf: int = Field(23, ge=0, le=51, description="Constant rate factor: lower is higher quality.")
    gop: int = Field(2, ge=1, description="Keyframe interval in frames; small for fast random access.")
    preset: str = Field("veryfast", description="x264 speed/size preset.")


class DatasetConfig(BaseModel):
    """Everything that fixes the layout of a dataset; stored in staging so a resume cannot drift."""

    model_config = ConfigDict(frozen=True)

    robot: RobotSpec = Field(default_factory=agilex_cobot_magic, description="Robot: cameras, fps, joints.")
    fps: int = Field(30, gt=0, description="Frame rate of the recording (the control rate), Hz.")
    chunks_size: int = Field(1000, gt=0, description="Files per chunk-XXX directory.")
    data_files_size_in_mb: float = Field(100, gt=0, description="Roll data parquet files over past this size.")
    video_files_size_in_mb: float = Field(200, gt=0, description="Roll mp4 files over past this size.")
    video: VideoConfig = Field(default_factory=VideoConfig, description="Video encoding settings.")

    @model_validator(mode="after")
    def _even_resolution(self) -> DatasetConfig:
        if self.video.pix_fmt.startswith("yuv420"):
            odd = [f"{c.name} {c.height}x{c.width}" for c in self.robot.cameras if c.height % 2 or c.width % 2]
            if odd:
                raise ValueError(f"{self.video.pix_fmt} video needs an even image height and width, got {odd}")
        return self

    @property
    def cameras(self) -> tuple[str, ...]:
        return self.robot.camera_keys

    @property
    def image_shape(self) -> dict[str, tuple[int, int, int]]:
        """Camera name -> (H, W, 3)."""
        return {c.name: (c.height, c.width, 3) for c in self.robot.cameras}


def build_features(cfg: DatasetConfig, video_info: dict[str, dict] | None = None) -> dict[str, dict]:
    """The ``features`` entry of info.json.

    Args:
        cfg: dataset configuration.
        video_info: per video key, the stream info read back from the written mp4
            (``video.height``, ``video.codec``, ...); a placeholder from ``cfg`` where missing.
    """
    names = cfg.robot.joint_names
    dim = cfg.robot.action_dim
    feats: dict[str, dict] = {
        STATE: {"dtype": "float32", "shape": [dim], "names": list(names)},
        ACTION: {"dtype": "float32", "shape": [dim], "names": list(names)},
    }
    for cam in cfg.robot.cameras:
        key = video_key(cam.name)
        info = (video_info or {}).get(key) or {
            "video.height": cam.height,
            "video.width": cam.width,
            "video.codec": "h264" if cfg.video.codec == "libx264" else cfg.video.codec,
            "video.pix_fmt": cfg.video.pix_fmt,
            "video.is_depth_map": False,
            "video.fps": cfg.fps,
            "video.channels": 3,
            "has_audio": False,
        }
        feats[key] = {
            "dtype": "video",
            "shape": [cam.height, cam.width, 3],
            "names": ["height", "width", "channels"],
            "info": info,
        }
    feats[INTERVENTION] = {"dtype": "bool", "shape": [1], "names": None}
    feats[REWARD] = {"dtype": "float32", "shape": [1], "names": None}
    feats[DONE] = {"dtype": "bool", "shape": [1], "names": None}
    for key, dtype in (
        ("timestamp", "float32"),
        ("frame_index", "int64"),
        ("episode_index", "int64"),
        ("index", "int64"),
        ("task_index", "int64"),
    ):
        feats[key] = {"dtype": dtype, "shape": [1], "names": None}
    return feats

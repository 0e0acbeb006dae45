"""LeRobotDataset v3.0 writer: stage finished episodes one by one, then ``finalize()`` into the v3.0 files.

Example::

    writer = LeRobotDatasetWriter("data/brick_sorting", DatasetConfig())
    writer.add_episode(Episode(task="sort the bricks", states=s, actions=a, images=imgs,
                               source="demo", success=True, final_score=10.0))
    writer.finalize()

Nothing on disk is ever half-written: episodes are staged atomically (see ``staging.py``) and the
dataset is swapped in atomically (see ``finalize.py``). After ``kill -9`` a new writer on the same
root keeps every staged episode; only episodes that were not staged yet need redoing.
"""

from __future__ import annotations

from pathlib import Path

from rise_env.data.episode import Episode
from rise_env.data.finalize import FinalizeReport, finalize_dataset, recover_finalize
from rise_env.data.layout import STAGING_DIR, DatasetConfig
from rise_env.data.staging import StagingArea
from rise_env.utils.atomic import read_json, rmtree


class LeRobotDatasetWriter:
    """Writes a LeRobotDataset v3.0 under ``root`` (no dependency on lerobot).

    Args:
        root: dataset directory (created if missing).
        cfg: layout (robot, cameras and resolution, fps, file size limits, video codec). None reuses
            the configuration recorded by an earlier run on ``root``, or the defaults for a new root.
        clean_partial: remove temporary files of killed writers. Pass False in worker processes
            that stage concurrently with others into the same root.
    """

    def __init__(self, root: str | Path, cfg: DatasetConfig | None = None, clean_partial: bool = True):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        recover_finalize(self.root)
        if cfg is None:
            saved = self.root / STAGING_DIR / "config.json"
            cfg = DatasetConfig.model_validate(read_json(saved)) if saved.exists() else DatasetConfig()
        self.cfg = cfg
        self.staging = StagingArea(self.root, cfg)
        if clean_partial:
            self.staging.clean_partial()

    def staged_ids(self) -> list[int]:
        """Ids of the episodes staged so far (complete ones only), sorted."""
        return self.staging.ids()

    def has_episode(self, episode_id: int) -> bool:
        return self.staging.has(episode_id)

    def add_episode(self, episode: Episode, episode_id: int | None = None, overwrite: bool = False) -> int:
        """Stage one finished episode atomically; returns its id (default: one past the largest staged id).

        Raises:
            EpisodeError: a feature has the wrong shape/dtype/values (nothing is written).
            FileExistsError: ``episode_id`` is already staged and ``overwrite`` is False.
        """
        if episode_id is None:
            ids = self.staging.ids()
            episode_id = ids[-1] + 1 if ids else 0
        self.staging.stage(episode_id, episode, overwrite=overwrite)
        return int(episode_id)

    def finalize(self, force: bool = False, remove_staging: bool = False, progress: bool = False) -> FinalizeReport:
        """Consolidate all staged episodes into ``meta/``, ``data/`` and ``videos/`` atomically.

        Idempotent: without new episodes it does nothing (unless ``force``). Keeping the staging
        area (the default) lets a later run add episodes and finalize again; ``remove_staging``
        deletes it once the dataset is written (the dataset alone can then not be extended).
        """
        report = finalize_dataset(self.root, self.cfg, force=force, progress=progress)
        if remove_staging:
            rmtree(self.root / STAGING_DIR)
        return report

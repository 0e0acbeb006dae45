"""Clear errors on bad input: nothing is staged, and the message names the feature and the expectation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rise_env.data import EpisodeError, LeRobotDatasetReader, LeRobotDatasetWriter


@pytest.fixture()
def writer(tmp_path, dsutil):
    return LeRobotDatasetWriter(tmp_path / "ds", dsutil.small_config())


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda ep: {"states": ep.states[:, :13]}, r"states .*shape \(T, 14\)"),
        (lambda ep: {"states": ep.states.astype(np.int32)}, r"states .*float32.*int32"),
        (lambda ep: {"actions": ep.actions[:-1]}, r"actions must have shape \(6, 14\)"),
        (lambda ep: {"states": np.where(np.arange(6)[:, None] == 2, np.nan, ep.states)}, r"NaN/inf.*frame 2"),
        (lambda ep: {"images": {**ep.images, "head": ep.images["top"]}}, r"unknown camera\(s\) \['head'\]"),
        (lambda ep: {"images": {k: v for k, v in ep.images.items() if k != "top"}}, r"missing camera\(s\) \['top'\]"),
        (
            lambda ep: {"images": {**ep.images, "top": ep.images["top"].astype(np.float32)}},
            r"images\['top'\] must be uint8",
        ),
        (
            lambda ep: {"images": {**ep.images, "top": ep.images["top"][:, :16]}},
            r"images\['top'\] must have shape \(6, 32, 48, 3\)",
        ),
        (lambda ep: {"intervention": np.zeros(6, np.int64)}, r"intervention must be a bool array"),
        (lambda ep: {"source": "teleop"}, r"source must be one of"),
        (lambda ep: {"task": ""}, r"task must be a non-empty string"),
        (lambda ep: {"final_score": float("nan")}, r"final_score must be finite"),
        (lambda ep: {"success": "yes"}, r"success must be a bool"),
        (lambda ep: {"rewards": np.zeros(5, np.float32)}, r"rewards must be a float array of shape \(6,\)"),
        (lambda ep: {"extras": {"length": 3}}, r"extras\['length'\]"),
    ],
)
def test_bad_episode_is_refused(writer, dsutil, change, match):
    ep = dsutil.make_episode(6, 0)
    bad = dsutil.make_episode(6, 0, **change(ep))
    with pytest.raises(EpisodeError, match=match):
        writer.add_episode(bad)
    assert writer.staged_ids() == [] and not list((writer.root / "staging/tmp").iterdir())


def test_odd_resolution_and_bad_ids(tmp_path, dsutil):
    from rise_env.data import DatasetConfig
    from rise_env.spec import agilex_cobot_magic

    with pytest.raises(ValueError, match=r"even image height and width, got \['top 31x48'"):
        DatasetConfig(robot=agilex_cobot_magic(31, 48))
    w = LeRobotDatasetWriter(tmp_path / "ok", dsutil.small_config())
    with pytest.raises(ValueError, match="non-negative int"):
        w.add_episode(dsutil.make_episode(4, 0), episode_id=-1)


def test_reader_errors(tmp_path, written_dataset):
    with pytest.raises(FileNotFoundError, match="meta/info.json is missing"):
        LeRobotDatasetReader(tmp_path)
    r = LeRobotDatasetReader(written_dataset[0])
    with pytest.raises(IndexError, match="out of range"):
        r.episode_frames(99)
    bad = tmp_path / "v21"
    (bad / "meta").mkdir(parents=True)
    (bad / "meta/info.json").write_text(json.dumps({"codebase_version": "v2.1"}))
    with pytest.raises(ValueError, match="'v2.1' is not supported"):
        LeRobotDatasetReader(bad)

"""Crash safety: a kill -9 while staging or finalizing never leaves a partial episode or dataset."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rise_env.data import LeRobotDatasetReader, LeRobotDatasetWriter
from rise_env.data import finalize as finalize_mod

PRELUDE = """
import os, signal, sys
import numpy as np
sys.path.insert(0, {repo!r})
from rise_env.data import Episode, LeRobotDatasetWriter, DatasetConfig
from rise_env.spec import agilex_cobot_magic
cfg = DatasetConfig(robot=agilex_cobot_magic(32, 48))
def episode(n):
    imgs = {{c: np.full((n, 32, 48, 3), 100, np.uint8) for c in cfg.cameras}}
    return Episode(task="t", states=np.zeros((n, 14), np.float32), actions=np.zeros((n, 14), np.float32), images=imgs)
"""


def _run_killed(root: Path, body: str) -> None:
    """Run ``body`` in a fresh interpreter that SIGKILLs itself at the point the body chooses."""
    repo = str(Path(__file__).resolve().parents[3])
    code = PRELUDE.format(repo=repo) + textwrap.dedent(body).replace("ROOT", repr(str(root)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]


def test_kill_while_staging_leaves_no_partial_episode(tmp_path, dsutil):
    root = tmp_path / "ds"
    w = LeRobotDatasetWriter(root, dsutil.small_config())
    w.add_episode(dsutil.make_episode(10, 0))
    before = sorted(p.read_bytes() for p in w.staging.episode_dir(0).iterdir())
    _run_killed(
        root,
        """
        import rise_env.data.staging as st
        real, calls = st.encode_video, []
        def encode_then_die(*a, **k):
            real(*a, **k); calls.append(1)
            if len(calls) == 2: os.kill(os.getpid(), signal.SIGKILL)
        st.encode_video = encode_then_die
        LeRobotDatasetWriter(ROOT, cfg, clean_partial=False).add_episode(episode(8))
        """,
    )
    assert list((root / "staging/tmp").iterdir()), "the killed writer should have left its temporary dir"
    w2 = LeRobotDatasetWriter(root)  # cleans partial output, reuses the recorded config
    assert w2.cfg == dsutil.small_config()
    assert not list((root / "staging/tmp").iterdir())
    assert w2.staged_ids() == [0]
    assert sorted(p.read_bytes() for p in w2.staging.episode_dir(0).iterdir()) == before
    w2.add_episode(dsutil.make_episode(8, 1))
    assert w2.finalize().episodes == 2


def test_kill_while_finalizing_keeps_previous_dataset(tmp_path, dsutil):
    root = tmp_path / "ds"
    w = LeRobotDatasetWriter(root, dsutil.small_config())
    for i in range(2):
        w.add_episode(dsutil.make_episode(9, i))
    w.finalize()
    w.add_episode(dsutil.make_episode(7, 2))
    _run_killed(
        root,
        """
        import rise_env.data.finalize as fin
        real = fin.concat_videos
        def concat_then_die(*a, **k):
            real(*a, **k); os.kill(os.getpid(), signal.SIGKILL)
        fin.concat_videos = concat_then_die
        LeRobotDatasetWriter(ROOT, cfg).finalize()
        """,
    )
    assert (root / "staging/finalize/new").exists() and not (root / "staging/finalize/COMMITTED").exists()
    r = LeRobotDatasetReader(root)  # discards the uncommitted build
    assert (r.num_episodes, r.num_frames) == (2, 18)
    assert not (root / "staging/finalize").exists()
    rep = LeRobotDatasetWriter(root).finalize()
    assert (rep.episodes, rep.frames, rep.skipped) == (3, 25, False)
    assert LeRobotDatasetReader(root).num_frames == 25


def test_crash_mid_swap_is_rolled_forward(tmp_path, dsutil, monkeypatch):
    root = tmp_path / "ds"
    w = LeRobotDatasetWriter(root, dsutil.small_config())
    w.add_episode(dsutil.make_episode(9, 0))
    w.finalize()
    w.add_episode(dsutil.make_episode(6, 1))
    real_rename, calls = finalize_mod.os.rename, []

    def rename_until_crash(a, b):
        calls.append(1)
        if len(calls) == 3:  # meta swapped, data not yet
            raise OSError("simulated power cut")
        real_rename(a, b)

    monkeypatch.setattr(finalize_mod.os, "rename", rename_until_crash)
    with pytest.raises(OSError, match="power cut"):
        w.finalize()
    monkeypatch.setattr(finalize_mod.os, "rename", real_rename)
    assert (root / "staging/finalize/COMMITTED").exists()
    r = LeRobotDatasetReader(root)  # completes the committed swap
    assert (r.num_episodes, r.num_frames) == (2, 15)
    assert w.finalize().skipped


def test_finalize_is_idempotent_and_deterministic(tmp_path, dsutil):
    root = tmp_path / "ds"
    w = LeRobotDatasetWriter(root, dsutil.small_config())
    for i in range(3):
        w.add_episode(dsutil.make_episode(8 + i, i))
    first = w.finalize()
    files = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file() and "staging" not in p.parts}
    assert w.finalize().skipped and not first.skipped
    w.finalize(force=True)
    again = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file() and "staging" not in p.parts}
    assert again == files


def test_resume_guards(tmp_path, dsutil):
    root = tmp_path / "ds"
    w = LeRobotDatasetWriter(root, dsutil.small_config())
    with pytest.raises(ValueError, match="no staged episodes"):
        w.finalize()
    w.add_episode(dsutil.make_episode(5, 0), episode_id=4)
    assert w.add_episode(dsutil.make_episode(5, 1)) == 5
    with pytest.raises(FileExistsError, match="already staged"):
        w.add_episode(dsutil.make_episode(5, 2), episode_id=4)
    w.add_episode(dsutil.make_episode(7, 2), episode_id=4, overwrite=True)
    with pytest.raises(ValueError, match="different dataset configuration"):
        LeRobotDatasetWriter(root, dsutil.small_config(fps=15))
    w.finalize(remove_staging=True)
    r = LeRobotDatasetReader(root)
    assert [m.length for m in r.episodes] == [7, 5] and r.episodes[0].extras["episode_id"] == 4
    w2 = LeRobotDatasetWriter(root, dsutil.small_config())
    w2.add_episode(dsutil.make_episode(5, 3))
    with pytest.raises(ValueError, match="would replace it"):
        w2.finalize()
    np.testing.assert_array_equal(LeRobotDatasetReader(root).frame_index[:7], np.arange(7))

"""``python -m rise_env.evaluate dynamics``: result JSON with the DESIGN keys and a real | imagined mp4."""

import math
from types import SimpleNamespace

import imageio.v2 as imageio
import numpy as np
import pytest

from rise_env.evaluate import main as evaluate
from rise_env.models.dynamics.evalrun import pick_windows
from rise_env.train import main as train
from rise_env.utils.atomic import read_json

KEYS = ("episodes", "psnr", "ssim", "epe", "psnr_copy_last", "ssim_copy_last", "epe_copy_last")


@pytest.fixture(scope="module")
def tiny_run(tiny_dynamics_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("dyn_eval") / "run"
    argv = ["dynamics", "--data", str(tiny_dynamics_dataset), "--out", str(run), "--preset", "tiny"]
    argv += ["--steps", "1", "--vae-steps", "0", "--batch-size", "2", "--val-fraction", "0.34", "--no-progress"]
    assert train(argv) == 0
    return run


def test_evaluate_writes_result_json_and_side_by_side_video(tiny_dynamics_dataset, tiny_run, tmp_path):
    out, video = tmp_path / "dynamics_tiny.json", tmp_path / "dynamics_tiny.mp4"
    argv = ["dynamics", "--data", str(tiny_dynamics_dataset), "--checkpoint", str(tiny_run), "--out", str(out)]
    argv += ["--episodes", "all", "--steps", "2", "--max-windows", "5", "--video", str(video), "--video-windows", "2"]
    assert evaluate(argv + ["--guidance-interval", "0.5", "1"]) == 0
    result = read_json(out)
    assert result["guidance"] == 1.0 and result["guidance_interval"] == [0.5, 1.0]  # the sampling is recorded
    for key in ("command", "git_commit", "date", "machine", *KEYS, "controllability_ratio", "steps", "windows"):
        assert key in result, key
    assert all(math.isfinite(result[k]) for k in KEYS[1:]) and result["controllability_ratio"] > 0
    assert result["windows"] == result["episodes"] == 5 and result["steps"] == 2 and result["window_stride"] == 1
    assert result["episode_indices"] == [0, 1, 2] and result["checkpoint"] == str(tiny_run)
    # the collection scored, as the training run recorded it: figures of two collections are told apart
    assert result["data_fingerprint"] == read_json(tiny_run / "run.json")["data_fingerprint"]
    assert result["per_view"]["views"] == ["top", "left_wrist", "right_wrist"] and len(result["per_view"]["epe"]) == 3
    frames = imageio.mimread(video)
    assert len(frames) == 2 * 5  # 2 windows x 5 future frames (tiny preset)
    assert frames[0].shape == (3 * 32, 2 * 32, 3)  # rows = 3 views, columns = real | imagined


def test_evaluate_uses_the_held_out_episodes(tiny_dynamics_dataset, tiny_run, tmp_path):
    out = tmp_path / "val.json"
    argv = ["dynamics", "--data", str(tiny_dynamics_dataset), "--checkpoint", str(tiny_run / "model"), "--out"]
    argv += [str(out), "--steps", "1", "--max-windows", "2"]
    assert evaluate(argv) == 0
    assert read_json(out)["episode_indices"] == read_json(tiny_run / "run.json")["val_episodes"]
    with pytest.raises(ValueError, match="indices must lie"):
        evaluate(argv[:-4] + ["--episodes", "7"])


@pytest.mark.parametrize(
    "max_windows, starts",
    [
        (2, [5, 105]),  # one window per episode: its middle, not the robot at rest at frame 0
        (4, [2, 102, 7, 107]),  # two: the centres of the halves, interleaved across episodes
        (40, [s for k in range(10) for s in (k, 100 + k)]),  # more than there are: all of them, once
    ],
)
def test_evaluation_windows_sample_the_middle_of_episodes_not_their_ends(max_windows, starts):
    # episodes 0, 1 of 10 windows, starting at frames 0..9
    windows = SimpleNamespace(sample_episode_index=np.repeat([0, 1], 10), sample_frame_index=np.tile(np.arange(10), 2))
    ids = pick_windows(windows, [0, 1], max_windows)
    assert [i % 10 + 100 * (i // 10) for i in ids] == starts  # episode 1's windows are ids 10..19


def test_a_window_stride_picks_only_the_windows_a_run_trained_on():
    # episodes 0, 1 of 10 windows starting at frames 0..9; a run with --window-stride 4 trained on 0, 4, 8
    windows = SimpleNamespace(sample_episode_index=np.repeat([0, 1], 10), sample_frame_index=np.tile(np.arange(10), 2))
    ids = pick_windows(windows, [0, 1], 6, window_stride=4)
    picked = [(int(windows.sample_episode_index[i]), int(windows.sample_frame_index[i])) for i in ids]
    assert picked == [(0, 0), (1, 0), (0, 4), (1, 4), (0, 8), (1, 8)]
    middle = pick_windows(windows, [0, 1], 2, window_stride=4)  # one per episode: the middle aligned window
    assert [int(windows.sample_frame_index[i]) for i in middle] == [4, 4]
    with pytest.raises(ValueError, match="window stride must be >= 1"):
        pick_windows(windows, [0, 1], 2, window_stride=0)

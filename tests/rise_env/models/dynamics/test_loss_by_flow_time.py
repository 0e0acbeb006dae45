"""The loss-by-flow-time benchmark: every model scored on the same windows of the run's split, with
the same noise, so one model scored twice gives one row twice."""

import numpy as np
import pytest

from rise_env.data import DynamicsWindowDataset, LeRobotDatasetReader
from rise_env.models.dynamics import DynamicsModel
from rise_env.train import main as train
from rise_env.utils.atomic import read_json


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script("benchmarks/dynamics_loss_by_flow_time.py")


@pytest.fixture(scope="module")
def strided_run(tiny_dynamics_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("loss_by_t") / "run"
    argv = ["dynamics", "--data", str(tiny_dynamics_dataset), "--out", str(run), "--preset", "tiny", "--steps", "1"]
    argv += ["--vae-steps", "0", "--batch-size", "2", "--val-fraction", "0.34", "--window-stride", "4", "--no-progress"]
    assert train(argv) == 0
    return run


def test_windows_come_from_the_runs_split_at_its_stride(bench, tiny_dynamics_dataset, strided_run):
    run = read_json(strided_run / "run.json")
    windows = DynamicsWindowDataset(LeRobotDatasetReader(tiny_dynamics_dataset))
    for split in ("train", "val"):
        ids = bench.run_windows(windows, run, split, 100, seed=0)
        assert set(windows.sample_episode_index[ids].tolist()) == set(run[f"{split}_episodes"])
        assert (windows.sample_frame_index[ids] % 4 == 0).all() and ids == sorted(set(ids))
    few = bench.run_windows(windows, run, "train", 3, seed=0)
    assert len(few) == 3 and few == bench.run_windows(windows, run, "train", 3, seed=0)  # seeded draw


def test_one_model_scored_twice_gives_the_same_row(bench, tiny_dynamics_dataset, strided_run, tmp_path):
    out = tmp_path / "loss_by_t.json"
    argv = ["--data", str(tiny_dynamics_dataset), "--run", str(strided_run), "--checkpoint", str(strided_run)]
    argv += ["--checkpoint", str(strided_run / "model"), "--windows", "6", "--batch-size", "4"]
    argv += ["--times", "0.2", "0.9", "--out", str(out)]
    result = bench.main(argv)
    assert read_json(out)["loss"] == result["loss"] and result["times"] == [0.2, 0.9] and result["windows"] == 6
    first, second = result["loss"].values()
    assert first == second  # the same windows and the same noise for every model
    assert all(np.isfinite(first)) and first[0] != first[1]


def test_models_that_cut_windows_differently_are_refused(bench, tiny_dynamics_dataset, strided_run, tmp_path):
    other = tmp_path / "other"
    DynamicsModel.from_preset("tiny", memory_frames=2).save_pretrained(other)
    argv = ["--data", str(tiny_dynamics_dataset), "--run", str(strided_run), "--checkpoint", str(strided_run)]
    with pytest.raises(ValueError, match="must share memory frames"):
        bench.main(argv + ["--checkpoint", str(other), "--out", str(tmp_path / "x.json")])
    with pytest.raises(SystemExit):
        bench.main(argv + ["--windows", "0", "--out", str(tmp_path / "y.json")])

"""Building an asset folder from a tiny LeRobot dataset and a fresh (untrained) tiny world model."""

import json
import shutil
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from rise_env.assets import AssetChecksumError, verify_manifest
from rise_env.assets import manifest as manifest_module
from rise_env.assets.build import main as build_main
from rise_env.assets.build import start_points
from rise_env.assets.tiny import make_tiny_assets
from rise_env.data import LeRobotDatasetReader
from rise_env.envs import InitialStateBank, factory

EXAMPLE = "examples/imagine_brick_sorting.py"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny")
    return root, make_tiny_assets(root, num_states=4, fp16=True)


def test_bank_holds_the_recorded_start_points(built):
    root, assets = built
    manifest = verify_manifest(assets)
    bank = InitialStateBank.load(assets / "initial_states")
    reader = LeRobotDatasetReader(root / "dataset")
    assert bank.memory.shape == (4, 4, 3, 32, 32, 3) and bank.actions.shape == (4, 24, 14)
    assert bank.task_names == reader.tasks and bank.camera_keys == ["top", "left_wrist", "right_wrist"]
    for s in range(len(bank)):
        ep, t = int(bank.episode_index[s]), int(bank.frame_index[s])
        assert t >= 6  # full memory: frames t-6, t-4, t-2, t
        np.testing.assert_array_equal(bank.memory[s], reader.frames_at(ep, np.array([t - 6, t - 4, t - 2, t])))
        rows = reader.episode_slice(ep)
        np.testing.assert_array_equal(bank.state[s], reader.states[rows][t])
        expected = reader.actions[rows][np.minimum(t + np.arange(24), reader.episodes[ep].length - 1)]
        np.testing.assert_array_equal(bank.actions[s], expected)
    data = manifest["data"]
    assert data["num_states"] == 4 and data["frame_stride"] == 2 and data["weights_dtype"] == "float16"
    assert data["data_fingerprint"] == reader.fingerprint  # the collection the start points came from
    check = data["fp16"]["check_vs_float32"]
    assert data["fp16"]["bytes_fp16"] < 0.6 * data["fp16"]["bytes_fp32"]
    assert check["max_abs_frame_diff"] <= 8 and check["max_abs_value_diff"] < 1e-2
    assert manifest["metrics"] == {"note": "untrained smoke-test assets"}
    assert "--task brick_sorting" in manifest["command"]
    assert sorted(p.name for p in root.iterdir()) == ["assets", "dataset", "world_model"]  # no temp dir left


def test_start_points_are_deterministic_by_seed():
    a = start_points([20, 30], [0, 1], 5, first=6, seed=3)
    np.testing.assert_array_equal(a, start_points([20, 30], [0, 1], 5, first=6, seed=3))
    assert not np.array_equal(a, start_points([20, 30], [0, 1], 5, first=6, seed=4))
    assert (a[:, 1] >= 6).all() and len({tuple(r) for r in a}) == 5
    held_out = start_points([20, 30], [1], 50, first=6, seed=0)
    assert (held_out[:, 0] == 1).all() and len(held_out) == 24  # capped at the available frames


def test_existing_output_needs_overwrite(built):
    root, assets = built
    argv = ["--task", "brick_sorting", "--world-model", str(assets / "world_model"), "--data", str(root / "dataset"),
            "--out", str(assets), "--num-states", "2"]
    with pytest.raises(FileExistsError, match="overwrite"):
        build_main(argv)
    with pytest.raises(SystemExit):
        build_main(argv[:2] + argv[4:])  # neither --world-model nor --dynamics/--value
    with pytest.raises(SystemExit):
        build_main(argv + ["--action-guidance", "3"])  # a saved world model keeps its own sampling settings


def test_bundled_default_is_verified_before_use(built, tmp_path, monkeypatch):
    _, assets = built
    shutil.copytree(assets, tmp_path / "brick_sorting")
    monkeypatch.setattr(manifest_module, "ASSETS_ROOT", tmp_path)
    monkeypatch.setattr(factory, "_VERIFIED", {})
    env = factory.make_brick_sorting_env()
    obs, _ = env.reset(seed=0)
    assert obs["top"].shape == (32, 32, 3)
    monkeypatch.setattr(factory, "_VERIFIED", {})
    weights = tmp_path / "brick_sorting" / "world_model" / "value" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(AssetChecksumError, match="world_model/value/model.safetensors"):
        factory.make_brick_sorting_env()


def test_example_writes_an_mp4(built, tmp_path, capsys, load_script):
    _, assets = built
    example = load_script(EXAMPLE)
    out = tmp_path / "imagined.mp4"
    argv = ["--world-model", str(assets / "world_model"), "--initial-states", str(assets / "initial_states"),
            "--out", str(out), "--chunks", "2", "--seed", "0", "--threads", "1"]
    assert example.main(argv) == 0
    frames = imageio.mimread(out)
    assert len(frames) == 1 + 2 * 5 and frames[0].shape == (32 + 64, 96, 3)  # start + 2 chunks of 5 frames
    assert "chunk 1: advantage" in capsys.readouterr().out


def test_example_explains_a_missing_default(tmp_path, monkeypatch, capsys, load_script):
    example = load_script(EXAMPLE)
    monkeypatch.setattr(manifest_module, "ASSETS_ROOT", tmp_path)
    monkeypatch.setattr(factory, "_VERIFIED", {})
    assert example.main(["--out", str(tmp_path / "x.mp4")]) == 2
    assert "python -m rise_env.assets.build" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


def test_manifest_is_json_with_relative_paths(built):
    _, assets = built
    manifest = json.loads((assets / "manifest.json").read_text())
    assert all(not Path(f["path"]).is_absolute() for f in manifest["files"])


def test_strided_memory_survives_save_and_load(tmp_path):
    memory = np.arange(2 * 3 * 4 * 8 * 8 * 3, dtype=np.int64).astype(np.uint8).reshape(2, 3, 4, 8, 8, 3)
    strided = memory.transpose(0, 2, 1, 3, 4, 5)  # (S, M=4, V=3, ...) view, not C-contiguous
    bank = InitialStateBank(strided, np.zeros((2, 14), np.float32), np.zeros(2, np.int64), ["t"], ["a", "b", "c"])
    bank.save(tmp_path / "bank")
    np.testing.assert_array_equal(InitialStateBank.load(tmp_path / "bank").memory, strided)
    bank.save(tmp_path / "packed", compress=True)  # LZMA: same frames back, fewer bytes on disk
    np.testing.assert_array_equal(InitialStateBank.load(tmp_path / "packed").memory, strided)
    config = json.loads((tmp_path / "packed" / "config.json").read_text())
    assert config["memory_encoding"] == "lzma" and config["memory_shape"] == list(strided.shape)


def test_corrupt_compressed_memory_is_refused(tmp_path):
    memory = np.zeros((1, 2, 3, 4, 4, 3), np.uint8)
    InitialStateBank(memory, np.zeros((1, 14), np.float32), np.zeros(1, np.int64), ["t"], ["a", "b", "c"]).save(
        tmp_path / "bank", compress=True)
    config = json.loads((tmp_path / "bank" / "config.json").read_text())
    config["memory_shape"] = [1, 2, 3, 4, 4, 4]
    (tmp_path / "bank" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="compressed memory holds 288 bytes"):
        InitialStateBank.load(tmp_path / "bank")


def test_episode_selection():
    from rise_env.assets.build import select_episodes
    from rise_env.models.value import split_episodes

    assert select_episodes("all", 10, 0.1, 0) is None
    assert select_episodes("3, 7", 10, 0.1, 0) == [3, 7]
    assert select_episodes("held-out", 10, 0.2, 1) == split_episodes(10, 0.2, 1)[1]
    with pytest.raises(ValueError, match="held-out"):
        select_episodes("first", 10, 0.1, 0)


def test_bundle_with_policy_sources_and_compressed_states(tmp_path):
    from rise_agents.policies import AdvantageConditionedPolicy, get_policy_config

    root = tmp_path / "tiny"
    make_tiny_assets(root, num_states=2)  # dataset + world model
    torch.manual_seed(0)
    policy = AdvantageConditionedPolicy(get_policy_config("tiny"))
    with torch.no_grad():  # make the EMA copy differ from the online weights
        next(policy.ema.module.parameters()).add_(0.5)
    policy.save_pretrained(tmp_path / "policy")
    argv = ["--task", "brick_sorting", "--world-model", str(root / "world_model"), "--data", str(root / "dataset"),
            "--out", str(tmp_path / "out"), "--num-states", "3", "--sources", "demo", "--compress", "--fp16",
            "--policy", str(tmp_path / "policy")]
    out = build_main(argv)
    verify_manifest(out)
    bundled = AdvantageConditionedPolicy.from_pretrained(out / "policy")
    assert not (out / "policy" / "ema.safetensors").exists()
    expected = next(policy.ema.module.parameters())
    got = next(bundled.vla.model.parameters())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, atol=2e-3, rtol=2e-3)  # the EMA weights, through float16
    reader = LeRobotDatasetReader(root / "dataset")
    bank = InitialStateBank.load(out / "initial_states")
    assert {reader.episodes[e].source for e in bank.episode_index} == {"demo"}
    assert json.loads((out / "initial_states" / "config.json").read_text())["memory_encoding"] == "lzma"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["dataset"] == str(root / "dataset") and "policy" in manifest["data"]["bytes"]

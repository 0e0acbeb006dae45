"""``python -m rise_env.train dynamics`` on a tiny LeRobotDataset written by rise_env.data."""

import json

import numpy as np
import pytest
import torch

from rise_env.data import DatasetConfig, Episode, LeRobotDatasetWriter
from rise_env.models.dynamics import DynamicsModel
from rise_env.models.dynamics.run import train_dynamics_run
from rise_env.models.dynamics.runconfig import DynamicsTrainConfig
from rise_env.spec import agilex_cobot_magic
from rise_env.train import main
from rise_env.utils.atomic import read_json


def _episode(length: int, seed: int, task: str) -> Episode:
    rng = np.random.default_rng(seed)
    cams = ("top", "left_wrist", "right_wrist")
    images = {c: rng.integers(0, 255, (length, 32, 32, 3), dtype=np.uint8) for c in cams}
    return Episode(
        task=task,
        states=rng.normal(size=(length, 14)).astype(np.float32),
        actions=rng.normal(size=(length, 14)).astype(np.float32),
        images=images,
        source="demo",
        success=True,
    )


def test_train_cli_writes_a_loadable_model(tmp_path):
    root = tmp_path / "ds"
    writer = LeRobotDatasetWriter(root, DatasetConfig(robot=agilex_cobot_magic(32, 32)))
    for i, task in enumerate(["sort the bricks", "close the box"]):
        writer.add_episode(_episode(16, i, task))
    writer.finalize()
    out = tmp_path / "run"
    argv = [
        "dynamics",
        "--data",
        str(root),
        "--out",
        str(out),
        "--preset",
        "tiny",
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--vae-steps",
        "2",
        "--warmup-steps",
        "1",
    ]
    assert main(argv) == 0
    model = DynamicsModel.from_pretrained(out / "model")
    assert (model.config.height, model.config.width, model.config.views) == (32, 32, 3)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log] == ["vae"] * 2 + ["dynamics"] * 3
    assert all(np.isfinite(r["loss"]) for r in log)
    assert torch.all(model.action_high > model.action_low)


def test_random_clips_are_contiguous_single_view_cuts():
    from rise_env.models.dynamics.run import random_clips

    b, t, v = 3, 25, 3
    # every pixel encodes (window, frame, view) so a clip's origin can be read back
    frames = torch.zeros(b, t, v, 2, 2, 3, dtype=torch.uint8)
    for i in range(b):
        for k in range(t):
            for j in range(v):
                frames[i, k, j] = torch.tensor([i, k, j], dtype=torch.uint8)
    clips = random_clips(frames, 9, 2, torch.Generator().manual_seed(0))
    assert clips.shape == (b * 2, 9, 1, 2, 2, 3)
    for n, clip in enumerate(clips):
        window, first, view = clip[0, 0, 0, 0].tolist()
        assert window == n // 2
        assert clip[:, 0, 0, 0, 1].tolist() == list(range(first, first + 9))  # consecutive frames
        assert set(clip[:, 0, :, :, 2].flatten().tolist()) == {view}  # one view throughout
    assert random_clips(frames, 40, 5, torch.Generator()).shape == (b * v, t, 1, 2, 2, 3)  # capped at what exists


def test_random_clip_crops_are_windows_of_the_frames():
    import pytest

    from rise_env.models.dynamics.run import random_clips

    # pixel (y, x) of frame k holds (y, x, k): a crop's origin and extent can be read back
    t, height, width = 9, 12, 16
    y, x, k = torch.meshgrid(torch.arange(height), torch.arange(width), torch.arange(t), indexing="ij")
    frames = torch.stack([y, x, k], -1).permute(2, 0, 1, 3)[None, :, None].to(torch.uint8)  # (1, T, 1, H, W, 3)
    frames = frames.repeat(4, 1, 2, 1, 1, 1)  # 4 windows, 2 views
    clips = random_clips(frames, 5, 1, torch.Generator().manual_seed(0), crop=(4, 8))
    assert clips.shape == (4, 5, 1, 4, 8, 3)
    origins = set()
    for clip in clips:
        top, left = clip[0, 0, 0, 0, :2].tolist()
        assert clip[0, 0, :, 0, 0].tolist() == list(range(top, top + 4))  # contiguous rows
        assert clip[0, 0, 0, :, 1].tolist() == list(range(left, left + 8))  # contiguous columns
        assert (clip[..., :2] == clip[:1, ..., :2]).all()  # the same window in every frame of the clip
        origins.add((top, left))
    assert len(origins) > 1  # drawn at random
    with pytest.raises(ValueError, match="crop 16x8 does not fit in the 12x16 frames"):
        random_clips(frames, 5, 1, torch.Generator(), crop=(16, 8))


def test_vae_clip_length_must_match_the_temporal_ratio(tmp_path):
    import pytest

    root = tmp_path / "ds"
    writer = LeRobotDatasetWriter(root, DatasetConfig(robot=agilex_cobot_magic(32, 32)))
    writer.add_episode(_episode(16, 0, "sort the bricks"))
    writer.finalize()
    argv = ["dynamics", "--data", str(root), "--out", str(tmp_path / "run"), "--preset", "tiny", "--steps", "1",
            "--vae-steps", "1", "--vae-clip-frames", "4"]
    with pytest.raises(ValueError, match="vae_clip_frames must be 1 \\+ k"):
        main(argv)
    with pytest.raises(ValueError, match=r"vae_crop must be multiples of 8 .*got \(12, 16\)"):
        main([*argv[:4], str(tmp_path / "run_crop"), *argv[5:-2], "--vae-crop", "12", "16"])


def test_a_vae_cooldown_must_fit_each_autoencoder_phase_that_runs():
    def config(**fields):
        return DynamicsTrainConfig(data="ds", **fields)

    assert config(vae_steps=6, decoder_steps=0).autoencoder_phases == {"vae": 6}
    assert config(vae_steps=6, decoder_steps=4, vae_from="v").autoencoder_phases == {"decoder": 4}
    assert list(config(vae_steps=6, decoder_steps=4).autoencoder_phases) == ["vae", "decoder"]
    assert config(vae_steps=6, decoder_steps=4, vae_cooldown_steps=4).vae_cooldown_steps == 4
    with pytest.raises(ValueError, match="vae_cooldown_steps=5 is more than decoder_steps=4"):
        config(vae_steps=6, decoder_steps=4, vae_cooldown_steps=5)  # the shorter phase bounds the decay
    with pytest.raises(ValueError, match="vae_cooldown_steps=5 is more than vae_steps=3"):
        config(vae_steps=3, decoder_steps=8, vae_cooldown_steps=5)
    with pytest.raises(ValueError, match="vae_cooldown_steps=2 decays the VAE/decoder phase, and none runs"):
        config(vae_steps=6, vae_from="v", vae_cooldown_steps=2)  # vae_from skips the VAE phase
    assert config(vae_steps=6, decoder_steps=8, vae_from="v", vae_cooldown_steps=7).autoencoder_phases == {
        "decoder": 8
    }  # vae_steps does not bound a phase that does not run


def test_vae_batches_are_uniform_and_a_function_of_seed_and_step():
    from rise_env.models.dynamics.run import vae_batches

    class Windows:  # window i shows the value i everywhere
        def future_frames(self, i):
            return torch.full((5, 3, 2, 2, 3), i, dtype=torch.uint8)

    ids = np.arange(10, 110)
    whole = [b[:, 0, 0, 0, 0, 0].tolist() for b in vae_batches(Windows(), ids, 8, 6, 0, seed=3)]
    resumed = [b[:, 0, 0, 0, 0, 0].tolist() for b in vae_batches(Windows(), ids, 8, 6, 4, seed=3)]
    assert len(whole) == 6 and resumed == whole[4:]  # a resumed phase sees the same batches
    assert all(set(b) <= set(ids.tolist()) for b in whole)
    assert len({i for b in whole for i in b}) > 30  # spread over the ids, not grouped around a few
    other = [b[:, 0, 0, 0, 0, 0].tolist() for b in vae_batches(Windows(), ids, 8, 2, 0, seed=4)]
    assert other != whole[:2]


def test_a_preset_below_the_dataset_resolution_trains_on_cached_resized_frames(tmp_path):
    root = tmp_path / "ds"
    writer = LeRobotDatasetWriter(root, DatasetConfig(robot=agilex_cobot_magic(64, 64)))
    rng = np.random.default_rng(0)
    ep = _episode(16, 0, "sort the bricks")
    ep.images.update({c: rng.integers(0, 255, (16, 64, 64, 3), dtype=np.uint8) for c in ep.images})
    writer.add_episode(ep)
    writer.finalize()
    out = tmp_path / "run"
    argv = ["dynamics", "--data", str(root), "--out", str(out), "--preset", "tiny", "--steps", "1",
            "--batch-size", "2", "--vae-steps", "1", "--warmup-steps", "1", "--val-fraction", "0"]
    assert main(argv) == 0
    model = DynamicsModel.from_pretrained(out / "model")
    assert (model.config.height, model.config.width) == (32, 32)  # the tiny preset's own resolution
    cached = sorted((out / "frame_cache").glob("*.npy"))
    assert [p.name for p in cached] == ["episode_000000_top-left_wrist-right_wrist_32x32.npy"]
    source = read_json(out / "frame_cache" / "dataset.json")  # the cache is tied to this collection
    assert source["fingerprint"] == read_json(out / "run.json")["data_fingerprint"]
    assert np.load(cached[0]).shape == (16, 3, 32, 32, 3)


def test_vae_from_reuses_a_trained_vae_under_a_new_transformer(tmp_path):
    root = tmp_path / "ds"
    writer = LeRobotDatasetWriter(root, DatasetConfig(robot=agilex_cobot_magic(32, 32)))
    for i in range(2):
        writer.add_episode(_episode(16, i, "sort the bricks"))
    writer.finalize()
    common = ["--data", str(root), "--preset", "tiny", "--batch-size", "2", "--warmup-steps", "1"]
    assert main(["dynamics", *common, "--out", str(tmp_path / "a"), "--steps", "2", "--vae-steps", "2"]) == 0
    source = DynamicsModel.from_pretrained(tmp_path / "a" / "model")
    argv_b = ["dynamics", *common, "--out", str(tmp_path / "b"), "--steps", "2", "--vae-from", str(tmp_path / "a")]
    assert main(argv_b) == 0
    model = DynamicsModel.from_pretrained(tmp_path / "b" / "model")
    for k, v in source.codec.state_dict().items():
        assert torch.equal(v, model.codec.state_dict()[k]), k
    log_a, log_b = ([json.loads(x) for x in (tmp_path / r / "train_log.jsonl").read_text().splitlines()] for r in "ab")
    assert [r["phase"] for r in log_b] == ["dynamics"] * 2  # no VAE phase
    # same seed and VAE, fresh transformer: b's transformer phase repeats a's, step for step
    assert [r["loss"] for r in log_b] == [r["loss"] for r in log_a if r["phase"] == "dynamics"]

    bigger = tmp_path / "c"
    DynamicsModel.from_preset("tiny", height=64, width=64).save_pretrained(bigger)
    with pytest.raises(ValueError, match="its height is 64, the preset 'tiny' needs 32"):
        train_dynamics_run(tmp_path / "d", {**dict(data=str(root), preset="tiny", vae_from=str(bigger))})
    with pytest.raises(ValueError, match="not both"):
        train_dynamics_run(
            tmp_path / "e",
            dict(data=str(root), preset="tiny", vae_from=str(tmp_path / "a"), init_from=str(tmp_path / "a")),
        )

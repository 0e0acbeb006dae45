"""Latent cache: cached latents equal the encoder's, the loss on them equals the loss on frames,
interrupted builds resume, a cache of another encoder or other windows is refused, and the training
run trains on the cached windows of its stride."""

import json
import pickle

import numpy as np
import pytest
import torch

from rise_env.data import DynamicsWindowDataset, LeRobotDatasetReader, WindowConfig
from rise_env.models.dynamics.latent_cache import (
    META_NAME,
    CachedLatentWindows,
    build_latent_cache,
    encoder_fingerprint,
)
from rise_env.models.dynamics.model import DynamicsModel
from rise_env.models.dynamics.run import dataset_config
from rise_env.train import main


@pytest.fixture
def setup(tiny_dynamics_dataset):
    reader = LeRobotDatasetReader(tiny_dynamics_dataset)
    torch.manual_seed(0)
    model = DynamicsModel(dataset_config("tiny", reader))
    c = model.config
    windows = DynamicsWindowDataset(
        reader, WindowConfig(memory_frames=c.memory_frames, chunk=c.action_horizon, future_stride=c.action_stride)
    )
    return model, windows


def _stack(items):
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def test_cached_latents_are_the_encoders_and_give_the_same_loss(setup, tmp_path):
    model, windows = setup
    ids = np.array([0, 3, 17, 30])
    cache = build_latent_cache(tmp_path / "lat", model, windows, ids, batch_size=3, progress=False)
    assert len(cache) == 4 and json.loads((tmp_path / "lat" / META_NAME).read_text())["done"] == 4
    frames = _stack([windows[int(i)] for i in ids])
    cached = _stack([cache[int(i)] for i in ids])
    with torch.no_grad():
        encoded = model.encode_batch(frames)
    for key in ("memory_latents", "future_latents"):
        assert cached[key].shape == encoded[key].shape
        torch.testing.assert_close(cached[key], encoded[key], atol=2e-3, rtol=1e-3)  # float16 rounding
    for key in ("actions", "state", "task_index", "frame_index"):
        assert torch.equal(cached[key], frames[key])
    assert "memory_frames" not in cached
    with torch.no_grad():
        on_frames = model.loss(frames, generator=torch.Generator().manual_seed(1))
        on_cache = model.loss(cached, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(on_cache, on_frames, atol=1e-3, rtol=1e-3)
    with pytest.raises(IndexError, match="window 1 is not in this latent cache"):
        cache[1]
    copy = pickle.loads(pickle.dumps(cache))  # as sent to DataLoader workers: the files, not their contents
    assert len(pickle.dumps(cache)) == len(pickle.dumps(CachedLatentWindows(tmp_path / "lat", windows, ids)))
    assert torch.equal(copy[17]["future_latents"], cache[17]["future_latents"])


def test_an_interrupted_build_resumes_and_ends_equal_to_an_uninterrupted_one(setup, tmp_path, monkeypatch):
    model, windows = setup
    ids = np.arange(0, 40, 3)
    whole = build_latent_cache(tmp_path / "whole", model, windows, ids, batch_size=4, progress=False)
    real_encode, calls = model.codec.encode_future, []

    def encode_future(frames):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_encode(frames)

    monkeypatch.setattr(model.codec, "encode_future", encode_future)
    with pytest.raises(KeyboardInterrupt):
        build_latent_cache(tmp_path / "cut", model, windows, ids, batch_size=4, progress=False)
    assert json.loads((tmp_path / "cut" / META_NAME).read_text())["done"] == 8  # two batches flushed
    with pytest.raises(ValueError, match="holds 8 of 14 windows"):
        CachedLatentWindows(tmp_path / "cut", windows, ids)
    resumed = build_latent_cache(tmp_path / "cut", model, windows, ids, batch_size=4, progress=False)
    assert len(calls) == 3 + 2  # only the two missing batches were encoded again
    assert np.array_equal(resumed.future, whole.future) and np.array_equal(resumed.memory, whole.memory)


def test_a_cache_of_another_encoder_or_other_windows_is_refused(setup, tmp_path):
    model, windows = setup
    build_latent_cache(tmp_path / "lat", model, windows, np.array([0, 5]), progress=False)
    with pytest.raises(ValueError, match="another windows"):
        build_latent_cache(tmp_path / "lat", model, windows, np.array([0, 6]), progress=False)
    before = encoder_fingerprint(model)
    with torch.no_grad():
        model.codec.vae.decoder.conv_out.conv.weight.add_(1.0)  # the decoder does not change the latents
    assert encoder_fingerprint(model) == before
    with torch.no_grad():
        model.codec.vae.latents_std.mul_(2.0)
    with pytest.raises(ValueError, match="another encoder than this run needs"):
        build_latent_cache(tmp_path / "lat", model, windows, np.array([0, 5]), progress=False)
    with pytest.raises(ValueError, match="sorted and unique"):
        build_latent_cache(tmp_path / "new", model, windows, np.array([5, 0]), progress=False)


def _argv(data, out, *extra):
    base = ["dynamics", "--data", str(data), "--out", str(out), "--preset", "tiny", "--batch-size", "2"]
    base += ["--val-fraction", "0.34", "--no-progress", "--threads", "1", "--warmup-steps", "1"]
    return base + list(extra)


def test_the_run_trains_on_the_cached_windows_of_its_stride(tiny_dynamics_dataset, tmp_path, monkeypatch):
    pre = tmp_path / "pre"
    assert main(_argv(tiny_dynamics_dataset, pre, "--steps", "0", "--vae-steps", "1")) == 0
    seen = []
    real = DynamicsModel.loss

    def loss(self, batch, *args, **kwargs):
        seen.append(batch)
        return real(self, batch, *args, **kwargs)

    monkeypatch.setattr(DynamicsModel, "loss", loss)
    args = ("--init-from", str(pre), "--steps", "3", "--window-stride", "4", "--latent-cache", str(tmp_path / "lat"))
    assert main(_argv(tiny_dynamics_dataset, tmp_path / "run", *args)) == 0
    assert len(seen) == 3
    for batch in seen:
        assert "future_latents" in batch and "future_frames" not in batch
        assert (batch["frame_index"] % 4 == 0).all()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    meta = json.loads((tmp_path / "lat" / META_NAME).read_text())
    # training episodes of 16 frames, windows at frames 0, 4, 8, 12
    assert meta["done"] == meta["shapes"]["future"][0] == 4 * len(run["train_episodes"])
    # run.json counts every training window (the autoencoder phases' pool) and the transformer's
    assert run["windows"] == 16 * len(run["train_episodes"]) and run["dynamics_windows"] == meta["done"]

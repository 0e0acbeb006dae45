"""DynamicsModel: frame/latent mapping, loss, save/load round trip, rollouts with sparse memory."""

import json

import numpy as np
import pytest
import torch

from rise_env.models.dynamics import DynamicsModel
from rise_env.models.dynamics.rollout import imagine_rollout, select_memory, sparse_memory_indices
from rise_env.models.dynamics.synthetic import moving_squares
from rise_env.models.dynamics.training import train_dynamics


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast and does not collapse when the CPU is shared."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return DynamicsModel.from_preset("tiny", action_low=[-1.0] * 14, action_high=[1.0] * 14).eval()


def test_memory_frames_map_to_one_latent_each_and_future_clip_is_causal(tiny):
    batch = moving_squares(tiny.config, 2, seed=0)
    mem = tiny.codec.encode_memory(batch["memory_frames"])
    fut = tiny.codec.encode_future(batch["future_frames"])
    assert mem.shape == (2, 3, 8, 4, 4, 4) and fut.shape == (2, 3, 8, 3, 4, 4)
    alone = tiny.codec.encode_memory(batch["memory_frames"][:, 2:3].repeat(1, 4, 1, 1, 1, 1))
    torch.testing.assert_close(alone[:, :, :, 0], mem[:, :, :, 2])  # frames are encoded independently
    first = tiny.codec.encode_memory(batch["future_frames"][:, :1].repeat(1, 4, 1, 1, 1, 1))
    torch.testing.assert_close(first[:, :, :, 0], fut[:, :, :, 0], atol=1e-5, rtol=1e-4)  # causal latent 0
    assert tiny.codec.decode_frames(fut).shape == batch["future_frames"].shape


def test_actions_are_normalised_and_subsampled(tiny):
    chunk = torch.linspace(-1, 1, 10).view(1, 10, 1).expand(1, 10, 14)
    toks = tiny.action_tokens(chunk)
    assert toks.shape == (1, 5, 14)
    torch.testing.assert_close(toks[0, :, 0], chunk[0, 1::2, 0])
    assert tiny.action_frames(5).tolist() == [4, 5, 5, 6, 6]


def test_loss_is_finite_decreases_and_only_trains_the_transformer():
    torch.manual_seed(0)
    model = DynamicsModel.from_preset("tiny", views=1, action_low=[-1.0] * 14, action_high=[1.0] * 14)
    vae_before = {k: v.clone() for k, v in model.codec.state_dict().items()}
    data = [model.encode_batch(moving_squares(model.config, 8, seed=i)) for i in range(4)]
    losses = train_dynamics(model, data, steps=40, lr=3e-3)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-8:]) / 8 < 0.7 * sum(losses[:8]) / 8
    for k, v in model.codec.state_dict().items():
        assert torch.equal(v, vae_before[k])


def test_save_load_round_trip_is_bit_exact(tiny, tmp_path):
    tiny.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["preset"] == "tiny"
    loaded = DynamicsModel.from_pretrained(tmp_path / "ckpt").eval()
    ref, got = tiny.state_dict(), loaded.state_dict()
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    b = moving_squares(tiny.config, 1, seed=3)
    a1 = tiny.imagine(b["memory_frames"], b["state"], b["actions"], steps=2, seeds=[0])
    a2 = loaded.imagine(b["memory_frames"], b["state"], b["actions"], steps=2, seeds=[0])
    assert torch.equal(a1, a2)


def test_loading_refuses_a_checkpoint_of_another_shape(tiny, tmp_path):
    tiny.save_pretrained(tmp_path / "a")
    other = DynamicsModel.from_preset("tiny", transformer={**tiny.config.transformer.model_dump(), "num_layers": 1})
    other.save_pretrained(tmp_path / "b")
    (tmp_path / "b" / "config.json").write_text((tmp_path / "a" / "config.json").read_text())
    with pytest.raises(ValueError, match="does not match the model"):
        DynamicsModel.from_pretrained(tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="config.json"):
        DynamicsModel.from_pretrained(tmp_path / "missing")


def test_sparse_memory_spreads_over_everything_seen():
    assert sparse_memory_indices(29, 4) == [0, 9, 19, 28]
    assert sparse_memory_indices(2, 4) == [0, 0, 1, 1]
    frames = torch.arange(10).view(1, 10, 1, 1, 1, 1).expand(1, 10, 1, 2, 2, 3)
    assert select_memory(frames, 4)[0, :, 0, 0, 0, 0].tolist() == [0, 3, 6, 9]


def test_rollout_chains_chunks_and_reproduces(tiny):
    b = moving_squares(tiny.config, 2, seed=1)
    chunks = torch.stack([b["actions"], -b["actions"]], dim=1)
    out = imagine_rollout(tiny, b["memory_frames"], b["state"], chunks, steps=2, seeds=[0, 1])
    again = imagine_rollout(tiny, b["memory_frames"], b["state"], chunks, steps=2, seeds=[0, 1])
    assert out.shape == (2, 10, 3, 32, 32, 3) and torch.equal(out, again)


def test_fidelity_evaluation_reports_the_result_keys(tiny):
    from rise_env.models.dynamics.evaluation import evaluate_dynamics

    batches = [moving_squares(tiny.config, 2, seed=s) for s in range(2)]
    res = evaluate_dynamics(tiny, batches, steps=2)
    assert res["episodes"] == 4
    for key in ("psnr", "ssim", "epe", "psnr_copy_last", "ssim_copy_last", "epe_copy_last", "controllability_ratio"):
        assert np.isfinite(res[key]), key
    assert res["psnr_copy_last"] > res["psnr"]  # an untrained model loses to copying the last frame
    from rise_env.metrics import psnr

    recon = [tiny.codec.decode_frames(tiny.codec.encode_future(b["future_frames"])) for b in batches]
    direct = torch.cat([psnr(r, b["future_frames"]).mean((1, 2)) for r, b in zip(recon, batches)]).mean()
    assert res["psnr_autoencoder"] == pytest.approx(float(direct), rel=1e-5)  # the VAE-only ceiling
    assert 0 < res["ssim_autoencoder"] <= 1

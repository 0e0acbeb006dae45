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


def test_relative_action_tokens_carry_the_offset_from_the_state():
    model = DynamicsModel.from_preset("tiny", action_delta=True, action_low=[-2.0] * 14, action_high=[2.0] * 14)
    chunk = torch.linspace(-1, 1, 10).view(1, 10, 1).expand(2, 10, 14)
    state = torch.full((2, 14), 0.5)
    toks = model.action_tokens(chunk, state)
    assert toks.shape == (2, 5, 28)
    torch.testing.assert_close(toks[..., :14], chunk[:, 1::2] / 2)  # absolute part, range [-2, 2] -> [-1, 1]
    torch.testing.assert_close(toks[..., 14:], (chunk[:, 1::2] - 0.5) / 2)  # (a - s) in the same units
    assert model.transformer.action_encoder[0].in_features == 28
    with pytest.raises(ValueError, match="relative to the state"):
        model.action_tokens(chunk)
    with pytest.raises(ValueError, match=r"state must be \(2, 14\)"):
        model.action_tokens(chunk, torch.zeros(2, 7))
    out = model.imagine(
        torch.zeros(2, 4, 3, 32, 32, 3, dtype=torch.uint8), state, chunk, steps=2, seeds=[0, 1]
    )  # the sampling path passes the state through
    assert out.shape == (2, 5, 3, 32, 32, 3)


def test_models_saved_without_action_delta_load_as_absolute(tmp_path):
    model = DynamicsModel.from_preset("tiny")
    model.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg.pop("action_delta")  # a config.json written before the field existed
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    loaded = DynamicsModel.from_pretrained(tmp_path)
    assert not loaded.config.action_delta and loaded.transformer.action_encoder[0].in_features == 14
    assert DynamicsModel.from_preset("cpu").config.action_delta


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


def test_a_fixed_flow_time_noises_every_sample_to_that_time(tiny, monkeypatch):
    batch = tiny.encode_batch(moving_squares(tiny.config, 3, seed=0))
    future, seen = batch["future_latents"], []

    def exact_velocity(memory, x_t, t, *args, **kwargs):  # knows the clean future: v = (x_t - x_0) / t
        seen.append(t.clone())
        return (x_t - future) / t.view(-1, 1, 1, 1, 1, 1)

    monkeypatch.setattr(tiny, "velocity", exact_velocity)
    loss = tiny.loss(batch, generator=torch.Generator().manual_seed(0), t=0.3)
    assert loss.shape == (3,) and loss.max() < 1e-10  # x_t was built at t = 0.3 for every sample
    assert torch.equal(seen[0], torch.full((3,), 0.3))
    tiny.loss(batch, generator=torch.Generator().manual_seed(0))  # default: drawn logit-normal, one per sample
    assert len(set(seen[1].tolist())) == 3
    with pytest.raises(ValueError, match=r"flow time t must lie in \[0, 1\]"):
        tiny.loss(batch, t=1.5)


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
    from rise_env.metrics import flow_epe

    direct_epe = np.mean(
        [
            flow_epe(r[i, :, v].numpy(), b["future_frames"][i, :, v].numpy())
            for r, b in zip(recon, batches)
            for i in range(2)
            for v in range(r.shape[2])
        ]
    )
    assert res["epe_autoencoder"] == pytest.approx(float(direct_epe), rel=1e-5)
    from rise_env.metrics import flow_speed

    def mean_speed(clips):  # (B, T, V, H, W, 3) tensors
        return np.mean([flow_speed(c[i, :, v].numpy()) for c in clips for i in range(2) for v in range(3)])

    real_speed = mean_speed([b["future_frames"] for b in batches])
    assert res["flow_speed_real"] == pytest.approx(float(real_speed), rel=1e-5) and real_speed > 0.1  # squares move
    assert res["flow_speed_autoencoder"] == pytest.approx(float(mean_speed(recon)), rel=1e-5)
    from rise_env.metrics import flow_cosine

    direct_cos = [
        flow_cosine(r[i, :, v].numpy(), b["future_frames"][i, :, v].numpy())
        for r, b in zip(recon, batches)
        for i in range(2)
        for v in range(3)
    ]
    assert res["flow_cosine_autoencoder"] == pytest.approx(float(np.mean(direct_cos)), rel=1e-5)
    assert -1 <= res["flow_cosine"] <= 1
    keys = ("psnr", "ssim", "epe", "psnr_copy_last", "epe_copy_last", "psnr_autoencoder", "epe_autoencoder")
    for key in (*keys, "flow_speed", "flow_speed_autoencoder", "flow_speed_real", "flow_cosine"):
        assert len(res["per_view"][key]) == 3 and np.mean(res["per_view"][key]) == pytest.approx(res[key], rel=1e-9)
    top = np.mean([psnr(r[:, :, 0], b["future_frames"][:, :, 0]).mean(1).numpy() for r, b in zip(recon, batches)])
    assert res["per_view"]["psnr_autoencoder"][0] == pytest.approx(float(top), rel=1e-5)  # view 0 alone


def test_the_flow_cosine_skips_a_real_clip_with_no_motion(tiny):
    from rise_env.metrics import flow_cosine
    from rise_env.models.dynamics.evaluation import evaluate_dynamics

    batch = moving_squares(tiny.config, 2, seed=0)
    batch["future_frames"][1, :, 0] = 0  # window 1's top view is blank: its real motion has no direction
    res = evaluate_dynamics(tiny, [batch], steps=1)
    assert np.isfinite(res["flow_cosine"]) and np.isfinite(res["flow_cosine_autoencoder"])
    recon = tiny.codec.decode_frames(tiny.codec.encode_future(batch["future_frames"]))
    window0 = flow_cosine(recon[0, :, 0].numpy(), batch["future_frames"][0, :, 0].numpy())
    assert res["per_view"]["flow_cosine_autoencoder"][0] == pytest.approx(window0, rel=1e-5)  # window 1 skipped


def _null_action_inputs(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = model.config
    h, w = c.latent_hw
    mem = torch.randn(2, c.views, c.latent_channels, c.memory_frames, h, w, generator=g)
    fut = torch.randn(2, c.views, c.latent_channels, c.future_latent_frames, h, w, generator=g)
    acts = model.action_tokens(torch.rand(2, c.action_horizon, c.action_dim, generator=g) * 2 - 1)
    return mem, fut, torch.full((2,), 0.5), acts, torch.rand(2, c.action_dim, generator=g)


def test_null_action_replaces_the_actions_and_guidance_extrapolates_from_it():
    torch.manual_seed(0)
    model = DynamicsModel.from_preset("tiny", null_action=True).eval()
    torch.nn.init.normal_(model.transformer.action_ada[1].weight, std=0.1)  # let actions reach the output
    mem, fut, t, acts, st = _null_action_inputs(model)
    drop = torch.tensor([True, True])
    with torch.no_grad():
        v_null = model.velocity(mem, fut, t, acts, st, action_drop=drop)
        v_null_other = model.velocity(mem, fut, t, acts.flip(0) * 0.3, st, action_drop=drop)
        v_act = model.velocity(mem, fut, t, acts, st)
        torch.testing.assert_close(v_null, v_null_other)  # the null branch ignores the actions
        assert not torch.allclose(v_act, v_null, atol=1e-4)
        torch.testing.assert_close(model.guided_velocity(mem, fut, t, acts, st, 1.0), v_act)
        torch.testing.assert_close(model.guided_velocity(mem, fut, t, acts, st, 2.5), v_null + 2.5 * (v_act - v_null))


def test_action_dropout_trains_the_null_branch_and_needs_a_null_action():
    model = DynamicsModel.from_preset("tiny", null_action=True, views=1, action_low=[-1.0] * 14, action_high=[1.0] * 14)
    batch = model.encode_batch(moving_squares(model.config, 4, seed=0))
    other = {**batch, "actions": batch["actions"].flip(0)}
    all_null = [model.loss(b, torch.Generator().manual_seed(1), action_dropout=0.999999) for b in (batch, other)]
    torch.testing.assert_close(all_null[0], all_null[1])  # every sample dropped: actions do not matter
    plain = DynamicsModel.from_preset("tiny", views=1)
    with pytest.raises(ValueError, match="null action"):
        plain.loss(plain.encode_batch(moving_squares(plain.config, 2, seed=0)), action_dropout=0.1)
    with pytest.raises(ValueError, match="null_action=True"):
        DynamicsModel.from_preset("tiny", action_guidance=2.0)
    with pytest.raises(ValueError, match="guidance=2.0 needs"):
        plain.imagine(
            torch.zeros(1, 4, 1, 32, 32, 3, dtype=torch.uint8),
            torch.zeros(1, 14),
            torch.zeros(1, 10, 14),
            steps=1,
            seeds=[0],
            guidance=2.0,
        )


def test_guided_imagination_is_seeded_and_differs_from_plain_sampling():
    torch.manual_seed(0)
    model = DynamicsModel.from_preset("tiny", null_action=True).eval()
    torch.nn.init.normal_(model.transformer.action_ada[1].weight, std=0.1)
    hist = torch.randint(0, 255, (2, 4, 3, 32, 32, 3), dtype=torch.uint8)
    state, chunk = torch.zeros(2, 14), torch.rand(2, 10, 14)
    a = model.imagine_latents(model.encode_memory(hist), state, chunk, steps=3, seeds=[0, 1], guidance=3.0)
    b = model.imagine_latents(model.encode_memory(hist), state, chunk, steps=3, seeds=[0, 1], guidance=3.0)
    plain = model.imagine_latents(model.encode_memory(hist), state, chunk, steps=3, seeds=[0, 1], guidance=1.0)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, plain, atol=1e-4)


def test_guidance_interval_guides_only_its_steps_with_the_batched_null_branch():
    """Outside the interval a step is one plain call on B rows; inside, one call on 2B rows (actions + null)."""
    torch.manual_seed(0)
    model = DynamicsModel.from_preset("tiny", null_action=True).eval()
    torch.nn.init.normal_(model.transformer.action_ada[1].weight, std=0.1)
    mem = model.encode_memory(torch.randint(0, 255, (2, 4, 3, 32, 32, 3), dtype=torch.uint8))
    state, chunk = torch.zeros(2, 14), torch.rand(2, 10, 14)
    rows = []
    velocity = model.velocity
    model.velocity = lambda memory, *a, **k: rows.append(memory.shape[0]) or velocity(memory, *a, **k)

    def sample(**how):
        rows.clear()
        return model.imagine_latents(mem, state, chunk, steps=4, seeds=[0, 1], guidance=3.0, **how)

    every = sample()
    assert rows == [4, 4, 4, 4]
    torch.testing.assert_close(sample(guidance_interval=(0.0, 1.0)), every)  # the default is every step
    half = sample(guidance_interval=(0.5, 1.0))
    assert rows == [4, 4, 2, 2]  # t = 1 and 0.75 guided, 0.5 and 0.25 plain
    none = sample(guidance_interval=(0.0, 0.1))
    assert rows == [2, 2, 2, 2]
    plain = model.imagine_latents(mem, state, chunk, steps=4, seeds=[0, 1], guidance=1.0)
    torch.testing.assert_close(none, plain)
    assert not torch.allclose(half, every, atol=1e-4) and not torch.allclose(half, plain, atol=1e-4)
    with pytest.raises(ValueError, match="0 <= lo < hi <= 1"):
        sample(guidance_interval=(0.6, 0.4))


def test_guidance_interval_is_a_saved_config_default(tmp_path):
    model = DynamicsModel.from_preset("tiny", null_action=True, action_guidance=3.0, action_guidance_interval=[0.5, 1])
    assert model.config.action_guidance_interval == (0.5, 1.0)
    model.save_pretrained(tmp_path / "m")
    assert DynamicsModel.from_pretrained(tmp_path / "m").config.action_guidance_interval == (0.5, 1.0)
    with pytest.raises(ValueError, match="guidance interval"):
        DynamicsModel.from_preset("tiny", action_guidance_interval=(1.0, 0.5))

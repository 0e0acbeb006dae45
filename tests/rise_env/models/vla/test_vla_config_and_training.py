"""Presets, parameter counts, exact key names, and the loss going down with the cpu preset."""

from __future__ import annotations

import pytest
import torch

from rise_env.models.vla import AdvantageVLA, Pi05VLA, UnknownPresetError, VLAConfig, get_vla_config

KEY_NAMES = (
    "paligemma_with_expert.paligemma.model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight",
    "paligemma_with_expert.paligemma.model.vision_tower.vision_model.embeddings.patch_embedding.weight",
    "paligemma_with_expert.paligemma.model.vision_tower.vision_model.post_layernorm.bias",
    "paligemma_with_expert.paligemma.model.language_model.layers.0.mlp.gate_proj.weight",
    "paligemma_with_expert.paligemma.model.language_model.embed_tokens.weight",
    "paligemma_with_expert.gemma_expert.model.layers.0.input_layernorm.dense.weight",
    "paligemma_with_expert.gemma_expert.model.norm.dense.bias",
    "paligemma_with_expert.paligemma.model.multi_modal_projector.linear.weight",
    "action_in_proj.weight",
    "action_out_proj.bias",
    "time_mlp_in.weight",
    "time_mlp_out.bias",
)


def test_pi05_on_meta_device_has_about_3_35b_parameters():
    with torch.device("meta"):
        model = Pi05VLA(get_vla_config("pi05"))
    n = model.num_parameters()
    assert 3.30e9 < n < 3.40e9, n
    names = set(model.state_dict())
    assert all(k in names for k in KEY_NAMES)


def test_cpu_preset_is_small_and_all_state_is_named_like_openpi():
    model = Pi05VLA(get_vla_config("cpu"))
    assert model.num_parameters() <= 10_000_000
    names = set(model.state_dict())
    assert all(k in names for k in KEY_NAMES)
    assert all(k.startswith(("paligemma_with_expert.", "action_", "time_mlp_")) for k in names)
    for name, p in model.named_parameters():
        if name.endswith("dense.weight"):
            assert (p == 0).all(), f"adaRMS {name} must be zero-initialised"


def test_preset_typo_suggests_the_right_name():
    with pytest.raises(UnknownPresetError, match="Did you mean 'pi05'"):
        get_vla_config("pi5")
    cfg = get_vla_config("tiny", action_horizon=4)
    assert cfg.action_horizon == 4 and cfg.name == "tiny"


def test_experts_must_share_attention_geometry():
    cfg = get_vla_config("tiny")
    data = cfg.model_dump()
    data["expert"]["head_dim"] = 8
    with pytest.raises(ValueError, match="head_dim"):
        VLAConfig.model_validate(data)


@pytest.fixture
def one_thread():
    """One intra-op thread: steadier on a shared 2-core machine than two contending threads."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_loss_is_per_sample_and_decreases_on_a_fixed_batch_cpu_preset(one_thread):
    torch.manual_seed(0)
    cfg = get_vla_config("cpu")
    vla = AdvantageVLA(cfg)
    b = 2
    g = torch.Generator().manual_seed(0)
    batch = {
        "images": torch.rand(b, 3, 3, *cfg.vision.image_size, generator=g) * 2 - 1,
        "state": torch.rand(b, 14, generator=g) * 2 - 1,
        "task": ["pick up the red brick", "close the box"],
        "actions": torch.randn(b, cfg.action_horizon, 14, generator=g).cumsum(1) * 0.05,
        "advantage_bin": torch.tensor([10, 4]),
        "action_is_pad": torch.zeros(b, cfg.action_horizon, dtype=torch.bool),
    }
    noise = torch.randn(b, cfg.action_horizon, cfg.action_dim, generator=g)
    time = torch.tensor([0.3, 0.8])
    opt = torch.optim.AdamW(vla.parameters(), lr=1e-3)
    losses = []
    for _ in range(20):
        loss = vla.loss(batch, noise=noise, time=time)
        assert loss.shape == (b,)
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
        losses.append(loss.mean().item())
    assert losses[-1] < 0.3 * losses[0], losses


def test_padded_steps_are_excluded_from_the_per_sample_mean():
    torch.manual_seed(0)
    cfg = get_vla_config("tiny")
    vla = AdvantageVLA(cfg)
    g = torch.Generator().manual_seed(1)
    batch = {
        "images": torch.zeros(1, 3, 3, 32, 32),
        "state": torch.zeros(1, 14),
        "task": "t",
        "actions": torch.randn(1, cfg.action_horizon, 14, generator=g),
        "advantage_bin": 10,
    }
    noise, t = torch.randn(1, cfg.action_horizon, cfg.action_dim, generator=g), torch.tensor([0.5])

    def loss_with(valid_steps: list[int]) -> torch.Tensor:
        pad = torch.ones(1, cfg.action_horizon, dtype=torch.bool)
        pad[0, valid_steps] = False
        return vla.loss({**batch, "action_is_pad": pad}, noise=noise, time=t)

    per_step = torch.stack([loss_with([j]) for j in range(4)])
    assert torch.allclose(loss_with([0, 1, 2, 3]), per_step.mean(0), atol=1e-6)


def _tiny_batch(cfg, bins):
    g = torch.Generator().manual_seed(2)
    b = len(bins)
    return {
        "images": torch.rand(b, 3, 3, *cfg.vision.image_size, generator=g) * 2 - 1,
        "state": torch.rand(b, 14, generator=g) * 2 - 1,
        "task": "stack the blocks",
        "actions": torch.randn(b, cfg.action_horizon, 14, generator=g),
        "advantage_bin": torch.tensor(bins),
    }


def test_cfg_dropout_trains_the_null_prompt_branch():
    cfg = get_vla_config("tiny", cfg_dropout=1.0)
    torch.manual_seed(0)
    vla = AdvantageVLA(cfg)
    batch = _tiny_batch(cfg, [10, 3])
    noise, t = torch.randn(2, cfg.action_horizon, cfg.action_dim), torch.tensor([0.4, 0.9])
    dropped = vla.train().loss(batch, noise=noise, time=t)
    null = vla.loss({**batch, "advantage_bin": torch.tensor([0, 0])}, noise=noise, time=t)
    kept = vla.eval().loss(batch, noise=noise, time=t)  # no dropout outside training
    assert torch.equal(dropped, null) and (dropped - kept).abs().max() > 1e-6


def test_gradient_checkpointing_gives_the_same_gradients():
    cfg = get_vla_config("tiny")
    torch.manual_seed(0)
    vla = AdvantageVLA(cfg).train()
    batch = _tiny_batch(cfg, [10, 3])
    noise, t = torch.randn(2, cfg.action_horizon, cfg.action_dim), torch.tensor([0.4, 0.9])
    grads = []
    for flag in (False, True):
        vla.model.paligemma_with_expert.gradient_checkpointing = flag
        vla.zero_grad()
        vla.loss(batch, noise=noise, time=t).mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in vla.parameters() if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)

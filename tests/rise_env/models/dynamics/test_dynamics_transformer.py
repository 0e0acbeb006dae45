"""Transformer: LTX equivalence of the blocks, diffusers checkpoint loading, conditioning paths."""

import torch
from diffusers import LTXVideoTransformer3DModel

from rise_env.models.dynamics import ActionConditionedLTXTransformer, DynamicsModel
from rise_env.models.dynamics.transformer import NEW_MODULE_PREFIXES

TINY_LTX = dict(
    in_channels=8,
    out_channels=8,
    num_attention_heads=2,
    attention_head_dim=16,
    cross_attention_dim=32,
    num_layers=2,
    caption_channels=16,
)


def _net(**kw) -> ActionConditionedLTXTransformer:
    torch.manual_seed(0)
    return ActionConditionedLTXTransformer(**{**TINY_LTX, "num_tasks": 2, "task_tokens": 1, "action_hidden": 32, **kw})


def _inputs(b=2, v=3, f=3):
    g = torch.Generator().manual_seed(1)
    return (
        torch.randn(b, v, 8, f, 2, 4, generator=g),
        torch.rand(b, f, generator=g),
        torch.randn(b, 5, 14, generator=g),
        torch.randn(b, 14, generator=g),
    )


def test_blocks_compute_what_diffusers_blocks_compute():
    net = _net().eval()
    x = torch.randn(3, 24, 32)
    ctx = torch.randn(3, 7, 32)
    temb = torch.randn(3, 24, 6 * 32)
    rope = net.rope(x, 3, 2, 4, (0.32, 32.0, 32.0))
    with torch.no_grad():
        for block in net.transformer_blocks:
            ref = block(x, ctx, temb, image_rotary_emb=rope)
            ours = net._block(block, x, ctx, temb, rope, views=1, frames=3, cross_view=False)
            torch.testing.assert_close(ours, ref)


def test_diffusers_checkpoint_loads_with_only_new_modules_missing(tmp_path):
    torch.manual_seed(3)
    LTXVideoTransformer3DModel(**TINY_LTX).save_pretrained(tmp_path / "ltx")
    model = DynamicsModel.from_preset("tiny")  # 8 latent channels, 2 layers of 2 x 16, captions 16
    report = model.load_ltx_transformer(tmp_path / "ltx")
    assert report.unexpected == []
    assert report.missing and all(k.startswith(NEW_MODULE_PREFIXES) for k in report.missing)
    ref = LTXVideoTransformer3DModel.from_pretrained(tmp_path / "ltx")
    for k, v in ref.state_dict().items():
        assert torch.equal(model.transformer.state_dict()[k], v), k


def test_cross_view_attention_mixes_views_and_per_view_does_not():
    lat, t, a, s = _inputs(b=1)
    lat2 = lat.clone()
    lat2[:, 2] += 1.0
    for mode in ("joint", "same_frame"):
        net = _net(cross_view_mode=mode).eval()
        with torch.no_grad():
            assert not torch.allclose(net(lat2, t, a, s)[:, 0], net(lat, t, a, s)[:, 0]), mode
    net = _net(cross_view_every=0).eval()  # no cross-view block: view 0 cannot see view 2
    with torch.no_grad():
        torch.testing.assert_close(net(lat2, t, a, s)[:, 0], net(lat, t, a, s)[:, 0])


def test_actions_state_task_and_view_all_change_the_output():
    net = _net().eval()
    for p in net.parameters():  # wake up the zero-initialised modulations
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.1)
    lat, t, a, s = _inputs(b=1)
    af = torch.tensor([1, 1, 2, 2, 2])
    with torch.no_grad():
        base = net(lat, t, a, s, torch.tensor([0]), action_frames=af)
        assert not torch.allclose(net(lat, t, -a, s, torch.tensor([0]), action_frames=af), base)
        assert not torch.allclose(net(lat, t, a, -s, torch.tensor([0]), action_frames=af), base)
        assert not torch.allclose(net(lat, t, a, s, torch.tensor([1]), action_frames=af), base)
        text = torch.randn(1, 3, 16)
        assert net(lat, t, a, s, text_embeds=text, action_frames=af).shape == base.shape
        same = lat[:, :1].expand(-1, 3, -1, -1, -1, -1)
        out = net(same, t, a, s, torch.tensor([0]), action_frames=af)
        assert not torch.allclose(out[:, 0], out[:, 1])  # identical input, different view embedding

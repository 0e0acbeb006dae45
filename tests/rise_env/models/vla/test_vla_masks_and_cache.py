"""Attention-mask rule, prefix isolation and KV-cached vs uncached equality."""

from __future__ import annotations

import pytest
import torch

from rise_env.models.vla import Pi05VLA, get_vla_config, make_att_2d_masks
from rise_env.models.vla.flow import FlowSampler
from rise_env.models.vla.masks import cached_suffix_mask, positions_from_pad, suffix_ar_mask


def _model(seed: int = 0) -> Pi05VLA:
    torch.manual_seed(seed)
    model = Pi05VLA(get_vla_config("tiny")).eval()
    with torch.no_grad():  # non-trivial adaRMS so the expert really uses time and prefix
        for name, p in model.named_parameters():
            if name.endswith("dense.weight"):
                p.normal_(0, 0.05)
    return model


def _inputs(b: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    cfg = get_vla_config("tiny")
    images = torch.rand(b, 3, 3, *cfg.vision.image_size, generator=g) * 2 - 1
    image_masks = torch.ones(b, 3, dtype=torch.bool)
    image_masks[-1, 2] = False  # a missing camera
    tokens = torch.randint(0, 800, (b, cfg.max_token_len), generator=g)
    token_mask = torch.zeros(b, cfg.max_token_len, dtype=torch.bool)
    token_mask[0, :40] = True
    token_mask[-1, :25] = True
    return images, image_masks, tokens, token_mask


def test_att_2d_mask_rule_prefix_never_sees_suffix():
    lp, ls = 5, 4
    pad = torch.ones(1, lp + ls, dtype=torch.bool)
    pad[0, 3] = False  # one padded prefix token
    ar = torch.cat([torch.zeros(1, lp, dtype=torch.long), suffix_ar_mask(1, ls)], dim=1)
    m = make_att_2d_masks(pad, ar)[0]
    assert not m[:lp, lp:].any(), "prefix must never attend to the suffix"
    real_prefix = pad[0, :lp]
    assert (m[lp:, :lp] == real_prefix[None, :]).all(), "suffix attends to every real prefix token"
    assert m[lp:, lp:].all(), "action tokens attend to each other (one block)"
    assert (m[:lp, :lp] == (real_prefix[:, None] & real_prefix[None, :])).all(), "prefix is bidirectional"
    assert not m[3].any() and not m[:, 3].any(), "padding neither attends nor is attended"


def test_causal_and_block_ar_patterns():
    pad = torch.ones(1, 4, dtype=torch.bool)
    causal = make_att_2d_masks(pad, torch.ones(1, 4, dtype=torch.long))[0]
    assert torch.equal(causal, torch.tril(torch.ones(4, 4, dtype=torch.bool)))
    blocks = make_att_2d_masks(pad, torch.tensor([[1, 0, 1, 0]]))[0]
    assert blocks[1, 0] and blocks[0, 1] and not blocks[1, 2] and blocks[3, 0]


def test_cached_mask_equals_suffix_rows_of_full_mask():
    prefix_pad = torch.tensor([[True, True, False, True], [True, False, False, False]])
    s_pad = torch.ones(2, 3, dtype=torch.bool)
    s_ar = suffix_ar_mask(2, 3)
    full = make_att_2d_masks(
        torch.cat([prefix_pad, s_pad], 1), torch.cat([torch.zeros(2, 4, dtype=torch.long), s_ar], 1)
    )
    assert torch.equal(cached_suffix_mask(prefix_pad, s_pad, s_ar), full[:, 4:])
    assert positions_from_pad(prefix_pad).tolist() == [[0, 1, 1, 2], [0, 0, 0, 0]]


def test_prefix_outputs_do_not_depend_on_the_suffix():
    model = _model()
    images, im, tok, tm = _inputs()
    pwe = model.paligemma_with_expert
    p_embs, p_pad, p_ar = model.embed_prefix(model.embed_images(images), im, tok, tm)
    outs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        x = torch.randn(2, model.cfg.action_horizon, model.cfg.action_dim)
        s_embs, s_pad, s_ar, cond = model.embed_suffix(x, torch.rand(2))
        pad = torch.cat([p_pad, s_pad], 1)
        allowed = make_att_2d_masks(pad, torch.cat([p_ar, s_ar], 1))
        prefix_out, suffix_out, _ = pwe(p_embs, s_embs, positions_from_pad(pad), allowed, cond=cond)
        outs.append((prefix_out, suffix_out))
    valid = p_pad[..., None]
    assert torch.equal(outs[0][0] * valid, outs[1][0] * valid)
    assert not torch.allclose(outs[0][1], outs[1][1])


def test_kv_cached_velocity_equals_uncached():
    model = _model()
    images, im, tok, tm = _inputs()
    x = torch.randn(2, model.cfg.action_horizon, model.cfg.action_dim)
    t = torch.tensor([0.9, 0.3])
    with torch.no_grad():
        full = model(images, im, tok, tm, x, t)
        cached = model.velocity(model.encode_prefix(images, im, tok, tm), x, t)
    assert torch.isfinite(full).all()
    assert (full - cached).abs().max() <= 1e-5


def test_kv_cached_sampling_equals_uncached_sampling():
    model = _model()
    images, im, tok, tm = _inputs()
    noise = torch.randn(2, model.cfg.action_horizon, model.cfg.action_dim)
    sampler = FlowSampler(num_steps=10)
    with torch.no_grad():
        prefix = model.encode_prefix(images, im, tok, tm)
        cached = sampler.sample(lambda x, t: model.velocity(prefix, x, t), noise).actions
        uncached = sampler.sample(lambda x, t: model(images, im, tok, tm, x, t), noise).actions
    assert (cached - uncached).abs().max() <= 1e-5


def test_velocity_depends_on_prompt_time_and_masked_views():
    model = _model()
    images, im, tok, tm = _inputs()
    x = torch.randn(2, model.cfg.action_horizon, model.cfg.action_dim)
    t = torch.tensor([0.5, 0.5])
    with torch.no_grad():
        base = model(images, im, tok, tm, x, t)
        other_tokens = tok.clone()
        other_tokens[:, :5] = (other_tokens[:, :5] + 1) % 800
        assert not torch.allclose(base, model(images, im, other_tokens, tm, x, t))
        assert not torch.allclose(base, model(images, im, tok, tm, x, t * 0.5))
        # a padded (masked) view does not influence the output, whatever its pixels
        images2 = images.clone()
        images2[-1, 2] = -images2[-1, 2]
        assert torch.allclose(base, model(images2, im, tok, tm, x, t), atol=1e-6)
        # padded prompt tokens do not influence the output either
        tok2 = tok.clone()
        tok2[~tm] = 7
        assert torch.allclose(base, model(images, im, tok2, tm, x, t), atol=1e-6)


def _state_model(seed: int = 0) -> Pi05VLA:
    torch.manual_seed(seed)
    model = Pi05VLA(get_vla_config("tiny", continuous_state_input=True)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("dense.weight"):
                p.normal_(0, 0.05)
    return model


def test_continuous_state_token_leads_the_suffix_in_its_own_block():
    model = _state_model()
    h, d = model.cfg.action_horizon, model.cfg.action_dim
    state = torch.rand(2, model.cfg.state_dim) * 2 - 1
    embs, pad, ar, _ = model.embed_suffix(torch.randn(2, h, d), torch.rand(2), state)
    assert embs.shape[1] == h + 1 and pad.all()
    assert ar[0].tolist() == [1, 1] + [0] * (h - 1), "state token is a block; actions start the next one"
    allowed = make_att_2d_masks(pad, ar)[0]
    assert not allowed[0, 1:].any(), "the state token does not see the actions"
    assert allowed[1:, 0].all(), "every action token sees the state token"
    padded = torch.nn.functional.pad(state, (0, d - model.cfg.state_dim))
    assert torch.allclose(embs[:, 0], model.state_proj(padded))


def test_continuous_state_cached_equals_uncached_and_the_state_matters():
    model = _state_model()
    images, im, tok, tm = _inputs()
    state = torch.rand(2, model.cfg.state_dim) * 2 - 1
    noise = torch.randn(2, model.cfg.action_horizon, model.cfg.action_dim)
    sampler = FlowSampler(num_steps=10)
    with torch.no_grad():
        prefix = model.encode_prefix(images, im, tok, tm, state=state)
        cached = sampler.sample(lambda x, t: model.velocity(prefix, x, t), noise).actions
        uncached = sampler.sample(lambda x, t: model(images, im, tok, tm, x, t, state=state), noise).actions
        assert (cached - uncached).abs().max() <= 1e-5
        t = torch.tensor([0.5, 0.5])
        other = model(images, im, tok, tm, noise, t, state=state.flip(0))
        assert not torch.allclose(model(images, im, tok, tm, noise, t, state=state), other)
        repeated = model.velocity(prefix.repeat(2), noise.repeat(2, 1, 1), t.repeat(2))
        assert torch.allclose(repeated[:2], repeated[2:])
        assert torch.allclose(repeated[:2], model.velocity(prefix, noise, t))
    with pytest.raises(ValueError, match="continuous_state_input needs the normalised state"):
        model(images, im, tok, tm, noise, t)

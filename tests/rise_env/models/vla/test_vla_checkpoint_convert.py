"""Checkpoint conversion against an independent description of the openpi / LeRobot π0.5 layout.

``published_layout`` is written from the published key list of ``lerobot/pi05_base`` (812 tensors;
names in openpi ``gemma_pytorch.py`` / LeRobot ``modeling_pi05.py``) and HF SigLIP/Gemma shapes, not
from our modules, so a renamed or reshaped parameter makes these tests fail.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from rise_env.models.vla import (
    CheckpointKeyError,
    CheckpointShapeError,
    Pi05VLA,
    VLAConfig,
    config_from_checkpoint,
    export_state_dict,
    get_vla_config,
    load_norm_stats,
    load_pi05_weights,
)


def published_layout(cfg: VLAConfig, embed_as_lm_head: bool, expert_lm_head: bool = True) -> dict[str, tuple]:
    """key → shape of a π0.5 checkpoint with the sizes of ``cfg``."""
    v, lm, ex = cfg.vision, cfg.vlm, cfg.expert
    out: dict[str, tuple] = {}
    vt = "paligemma_with_expert.paligemma.model.vision_tower.vision_model."
    out[vt + "embeddings.patch_embedding.weight"] = (v.width, 3, v.patch_size, v.patch_size)
    out[vt + "embeddings.patch_embedding.bias"] = (v.width,)
    n_patches = (v.image_size[0] // v.patch_size) * (v.image_size[1] // v.patch_size)
    out[vt + "embeddings.position_embedding.weight"] = (n_patches, v.width)
    for i in range(v.depth):
        p = f"{vt}encoder.layers.{i}."
        for norm in ("layer_norm1", "layer_norm2"):
            out[p + norm + ".weight"] = out[p + norm + ".bias"] = (v.width,)
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            out[f"{p}self_attn.{proj}.weight"] = (v.width, v.width)
            out[f"{p}self_attn.{proj}.bias"] = (v.width,)
        out[p + "mlp.fc1.weight"], out[p + "mlp.fc1.bias"] = (v.mlp_dim, v.width), (v.mlp_dim,)
        out[p + "mlp.fc2.weight"], out[p + "mlp.fc2.bias"] = (v.width, v.mlp_dim), (v.width,)
    out[vt + "post_layernorm.weight"] = out[vt + "post_layernorm.bias"] = (v.width,)
    proj = "paligemma_with_expert.paligemma.model.multi_modal_projector.linear."
    out[proj + "weight"], out[proj + "bias"] = (lm.width, v.width), (lm.width,)
    if embed_as_lm_head:
        out["paligemma_with_expert.paligemma.lm_head.weight"] = (cfg.vocab_size, lm.width)
    else:
        out["paligemma_with_expert.paligemma.model.language_model.embed_tokens.weight"] = (cfg.vocab_size, lm.width)
    for stack, g, ada in (
        ("paligemma_with_expert.paligemma.model.language_model.", lm, False),
        ("paligemma_with_expert.gemma_expert.model.", ex, True),
    ):
        for i in range(g.depth):
            p = f"{stack}layers.{i}."
            for norm in ("input_layernorm", "post_attention_layernorm"):
                if ada:
                    out[f"{p}{norm}.dense.weight"], out[f"{p}{norm}.dense.bias"] = (
                        (3 * g.width, ex.width),
                        (3 * g.width,),
                    )
                else:
                    out[f"{p}{norm}.weight"] = (g.width,)
            out[p + "self_attn.q_proj.weight"] = (g.num_heads * g.head_dim, g.width)
            out[p + "self_attn.k_proj.weight"] = (g.num_kv_heads * g.head_dim, g.width)
            out[p + "self_attn.v_proj.weight"] = (g.num_kv_heads * g.head_dim, g.width)
            out[p + "self_attn.o_proj.weight"] = (g.width, g.num_heads * g.head_dim)
            out[p + "mlp.gate_proj.weight"] = out[p + "mlp.up_proj.weight"] = (g.mlp_dim, g.width)
            out[p + "mlp.down_proj.weight"] = (g.width, g.mlp_dim)
        if ada:
            out[stack + "norm.dense.weight"], out[stack + "norm.dense.bias"] = (3 * g.width, g.width), (3 * g.width,)
        else:
            out[stack + "norm.weight"] = (g.width,)
    if expert_lm_head:
        out["paligemma_with_expert.gemma_expert.lm_head.weight"] = (cfg.vocab_size, ex.width)
    e, a = ex.width, cfg.action_dim
    out["action_in_proj.weight"], out["action_in_proj.bias"] = (e, a), (e,)
    out["action_out_proj.weight"], out["action_out_proj.bias"] = (a, e), (a,)
    for name in ("time_mlp_in", "time_mlp_out"):
        out[name + ".weight"], out[name + ".bias"] = (e, e), (e,)
    return out


def _synthetic(layout: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in layout.items()}


def _outputs(model: Pi05VLA) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    cfg = model.cfg
    images = torch.rand(2, 3, 3, *cfg.vision.image_size, generator=g) * 2 - 1
    tokens = torch.randint(0, 500, (2, 12), generator=g)
    x = torch.randn(2, cfg.action_horizon, cfg.action_dim, generator=g)
    with torch.no_grad():
        return model(
            images,
            torch.ones(2, 3, dtype=torch.bool),
            tokens,
            torch.ones(2, 12, dtype=torch.bool),
            x,
            torch.rand(2, generator=g),
        )


def test_layout_description_matches_published_count_and_full_size_model():
    cfg = get_vla_config("pi05")
    layout = published_layout(cfg, embed_as_lm_head=True)
    assert len(layout) == 812  # lerobot/pi05_base
    with torch.device("meta"):
        model = Pi05VLA(cfg)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {k: s for k, s in published_layout(cfg, False, expert_lm_head=False).items()}
    assert ours == expected


@pytest.mark.parametrize("layout_name", ["openpi", "lerobot"])
def test_synthetic_checkpoint_loads_with_no_missing_or_unexpected_keys(tmp_path, layout_name):
    cfg = get_vla_config("tiny")
    lerobot = layout_name == "lerobot"
    tensors = _synthetic(published_layout(cfg, embed_as_lm_head=lerobot))
    if lerobot:
        tensors = {"model." + k: v for k, v in tensors.items()}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    model = Pi05VLA(cfg)
    report = load_pi05_weights(model, tmp_path)
    assert report.ok and report.missing == [] and report.unexpected == [] and report.mismatched == []
    assert report.layout == layout_name
    assert any("lm_head" in k for k in report.ignored)
    state = model.state_dict()
    prefix = "model." if lerobot else ""
    for key, value in state.items():
        src = key
        if key.endswith("embed_tokens.weight") and lerobot:
            src = "paligemma_with_expert.paligemma.lm_head.weight"
        assert torch.equal(value, tensors[prefix + src]), key


def test_both_layouts_and_export_give_identical_outputs(tmp_path):
    cfg = get_vla_config("tiny")
    raw = _synthetic(published_layout(cfg, embed_as_lm_head=False, expert_lm_head=False), seed=1)
    a, b, c = Pi05VLA(cfg), Pi05VLA(cfg), Pi05VLA(cfg)
    load_pi05_weights(a, dict(raw))
    load_pi05_weights(b, export_state_dict(a, layout="lerobot"))
    save_file(export_state_dict(a), str(tmp_path / "model.safetensors"))
    load_pi05_weights(c, tmp_path / "model.safetensors")
    out_a = _outputs(a)
    assert torch.equal(out_a, _outputs(b)) and torch.equal(out_a, _outputs(c))


def test_wrong_shape_fails_loudly_with_key_and_shapes():
    cfg = get_vla_config("tiny")
    tensors = _synthetic(published_layout(cfg, embed_as_lm_head=False))
    key = "paligemma_with_expert.gemma_expert.model.layers.1.self_attn.q_proj.weight"
    tensors[key] = torch.zeros(7, 5)
    with pytest.raises(CheckpointShapeError) as err:
        load_pi05_weights(Pi05VLA(cfg), tensors)
    msg = str(err.value)
    assert key in msg and "(7, 5)" in msg and str(tuple(published_layout(cfg, False)[key])) in msg


def test_missing_and_unexpected_keys_strict_and_lenient():
    cfg = get_vla_config("tiny")
    tensors = _synthetic(published_layout(cfg, embed_as_lm_head=False))
    del tensors["time_mlp_in.bias"]
    tensors["some_new_head.weight"] = torch.zeros(2)
    with pytest.raises(CheckpointKeyError, match="time_mlp_in.bias"):
        load_pi05_weights(Pi05VLA(cfg), tensors)
    report = load_pi05_weights(Pi05VLA(cfg), tensors, strict=False)
    assert report.missing == ["time_mlp_in.bias"] and report.unexpected == ["some_new_head.weight"]


def test_pi0_style_keys_are_renamed_or_ignored():
    cfg = get_vla_config("tiny")
    tensors = _synthetic(published_layout(cfg, embed_as_lm_head=False))
    for name in ("in", "out"):
        for p in ("weight", "bias"):
            tensors[f"action_time_mlp_{name}.{p}"] = tensors.pop(f"time_mlp_{name}.{p}")
    tensors["state_proj.weight"] = torch.zeros(3, 3)
    tensors["paligemma_with_expert.gemma_expert.model.norm.weight"] = torch.zeros(cfg.expert.width)
    report = load_pi05_weights(Pi05VLA(cfg), tensors)
    assert report.ok and report.renamed["action_time_mlp_in.weight"] == "time_mlp_in.weight"
    assert "state_proj.weight" in report.ignored


def test_config_from_openpi_and_lerobot_config_json(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"action_dim": 32, "action_horizon": 50, "paligemma_variant": "gemma_2b",
                    "action_expert_variant": "gemma_300m", "precision": "bfloat16"})
    )  # fmt: skip
    assert config_from_checkpoint(tmp_path) == get_vla_config("pi05")
    (tmp_path / "config.json").write_text(
        json.dumps({"type": "pi05", "chunk_size": 10, "max_action_dim": 32, "tokenizer_max_length": 48,
                    "paligemma_variant": "gemma_2b", "action_expert_variant": "gemma_300m"})
    )  # fmt: skip
    cfg = config_from_checkpoint(tmp_path)
    assert (cfg.action_horizon, cfg.action_dim, cfg.max_token_len) == (10, 32, 48)
    (tmp_path / "config.json").write_text(json.dumps({"paligemma_variant": "gemma_2bb"}))
    with pytest.raises(KeyError, match="Did you mean 'gemma_2b'"):
        config_from_checkpoint(tmp_path)


def test_norm_stats_from_openpi_lerobot_and_safetensors(tmp_path):
    q = {"q01": [0.0, -1.0], "q99": [1.0, 2.0], "mean": [0.5, 0.5], "std": [1.0, 1.0]}
    (tmp_path / "ckpt" / "assets" / "trossen").mkdir(parents=True)
    (tmp_path / "ckpt" / "assets" / "trossen" / "norm_stats.json").write_text(
        json.dumps({"norm_stats": {"state": q, "actions": q}})
    )
    (tmp_path / "ds" / "meta").mkdir(parents=True)
    (tmp_path / "ds" / "meta" / "stats.json").write_text(json.dumps({"observation.state": q, "action": q}))
    save_file(
        {f"{f}.{s}": torch.tensor(v) for f in ("observation.state", "action") for s, v in q.items()},
        str(tmp_path / "policy_preprocessor_step_5_normalizer_processor.safetensors"),
    )
    for src in (
        tmp_path / "ckpt",
        tmp_path / "ds",
        tmp_path / "policy_preprocessor_step_5_normalizer_processor.safetensors",
    ):
        stats = load_norm_stats(src)
        assert np.allclose(stats["state"]["q01"], [0.0, -1.0]) and np.allclose(stats["actions"]["q99"], [1.0, 2.0])


def test_pi0_state_proj_loads_into_a_continuous_state_model():
    cfg = get_vla_config("tiny", continuous_state_input=True)
    tensors = _synthetic(published_layout(cfg, embed_as_lm_head=False))
    tensors["state_proj.weight"] = torch.randn(cfg.expert.width, cfg.action_dim)  # π0: Linear(32, width)
    tensors["state_proj.bias"] = torch.randn(cfg.expert.width)
    model = Pi05VLA(cfg)
    report = load_pi05_weights(model, tensors)
    assert report.ok and not report.missing and "state_proj.weight" not in report.ignored
    assert torch.equal(model.state_proj.weight, tensors["state_proj.weight"])
    del tensors["state_proj.weight"], tensors["state_proj.bias"]
    with pytest.raises(CheckpointKeyError, match="state_proj"):
        load_pi05_weights(Pi05VLA(cfg), tensors)

"""Presets, validation and paper-scale parameter counts (instantiated on the meta device)."""

import pytest
import torch
from diffusers import AutoencoderKLLTXVideo, LTXVideoTransformer3DModel

from rise_env.models.dynamics import DynamicsModel, get_preset
from rise_env.models.dynamics.config import LTX_VAE_090, DynamicsConfig


def test_preset_typo_suggests_name():
    with pytest.raises(KeyError, match="did you mean 'cpu'"):
        get_preset("cpy")


def test_cpu_layout_is_a_6x8_latent_grid_at_the_policy_resolution():
    cfg = get_preset("cpu")
    assert (cfg.height, cfg.width) == (96, 128) and (cfg.spatial_ratio, cfg.temporal_ratio) == (16, 4)
    assert cfg.latent_hw == (6, 8) and cfg.future_latent_frames == 7 and cfg.action_tokens == 25


def test_ltx_layout_keeps_ltx_geometry():
    cfg = get_preset("ltx")
    assert (cfg.spatial_ratio, cfg.temporal_ratio) == (32, 8)
    assert cfg.latent_hw == (6, 8) and cfg.future_latent_frames == 4


@pytest.mark.parametrize(
    "override, match",
    [
        ({"future_frames": 24, "action_horizon": 48}, "future_frames must be 1 \\+ k"),
        ({"height": 100}, "multiples of the VAE ratio 16"),
        ({"action_horizon": 40}, "must equal future_frames"),
        ({"action_low": [0.0] * 3}, "action_dim=14"),
    ],
)
def test_bad_config_is_refused(override, match):
    with pytest.raises(ValueError, match=match):
        get_preset("cpu", **override)


def test_cpu_preset_is_a_few_million_parameters():
    with torch.device("meta"):
        n = DynamicsModel.from_preset("cpu").num_parameters()
    assert 1e6 < n["transformer"] < 10e6 and 1e6 < n["vae"] < 10e6


def test_ltx_preset_matches_ltx_video_2b_and_its_vae():
    """Transformer = LTX-Video 2B (1,923,385,472 params) + our new modules; VAE = LTX-Video 0.9.0's."""
    with torch.device("meta"):
        ours = DynamicsModel.from_preset("ltx")
        ref_t = LTXVideoTransformer3DModel()  # diffusers defaults are LTX-Video 2B
        ref_v = AutoencoderKLLTXVideo()  # diffusers defaults are the LTX-Video 0.9.0 VAE
    n = ours.num_parameters()
    n_ref_t = sum(p.numel() for p in ref_t.parameters())
    assert n_ref_t == 1_923_385_472
    assert n["transformer"] - n["new_modules"] == n_ref_t
    assert n["vae"] == sum(p.numel() for p in ref_v.parameters()) == 419_193_649
    assert DynamicsConfig.model_validate_json(ours.config.model_dump_json()).vae == LTX_VAE_090


def test_ge_preset_uses_the_timestep_conditioned_ltx_091_vae():
    with torch.device("meta"):
        ge = DynamicsModel.from_preset("ge")
    assert ge.codec.vae.config.timestep_conditioning
    assert ge.num_parameters()["vae"] == 934_976_434
    names = dict(ge.transformer.named_parameters())
    assert names["transformer_blocks.27.attn1.to_q.weight"].shape == (2048, 2048)


def test_cpu_fine_halves_the_latent_stride_and_keeps_the_cpu_token_count():
    cpu, fine = get_preset("cpu"), get_preset("cpu-fine")
    assert (fine.spatial_ratio, fine.temporal_ratio) == (8, 4) and fine.latent_hw == (12, 16)
    tokens = [c.latent_hw[0] * c.latent_hw[1] // c.transformer.patch_size**2 for c in (cpu, fine)]
    assert tokens == [12, 12]  # per latent frame and view: the transformer costs what cpu's does
    model = DynamicsModel.from_preset("cpu-fine").eval()
    frames = torch.randint(0, 256, (1, 4, 3, 96, 128, 3), dtype=torch.uint8)
    with torch.no_grad():
        memory = model.encode_memory(frames)
        future = model.imagine_latents(memory, torch.zeros(1, 14), torch.zeros(1, 50, 14), steps=1, seeds=[0])
    assert memory.shape == (1, 3, 32, 4, 12, 16) and future.shape == (1, 3, 32, 7, 12, 16)


def test_cpu_fine_t2_halves_the_temporal_ratio_on_the_cpu_fine_grid():
    fine, t2 = get_preset("cpu-fine"), get_preset("cpu-fine-t2")
    assert (t2.spatial_ratio, t2.temporal_ratio) == (8, 2) and t2.latent_hw == fine.latent_hw
    assert (fine.future_latent_frames, t2.future_latent_frames) == (7, 13)
    model = DynamicsModel.from_preset("cpu-fine-t2").eval()
    clip = torch.randint(0, 256, (1, 25, 3, 96, 128, 3), dtype=torch.uint8)
    with torch.no_grad():
        latents = model.codec.encode_future(clip)
        decoded = model.codec.decode_frames(latents)
    assert latents.shape == (1, 3, 32, 13, 12, 16)  # the real VAE's output agrees with the config
    assert decoded.shape == clip.shape and decoded.dtype == torch.uint8


def test_cpu_fine_t2_c8_tokens_hold_as_many_latent_values_as_the_transformer_is_wide():
    t2, c8 = get_preset("cpu-fine-t2"), get_preset("cpu-fine-t2-c8")
    assert (c8.spatial_ratio, c8.temporal_ratio, c8.latent_hw) == (t2.spatial_ratio, t2.temporal_ratio, t2.latent_hw)
    width = c8.transformer.num_attention_heads * c8.transformer.attention_head_dim
    values = [c.transformer.patch_size**2 * c.latent_channels for c in (get_preset("cpu"), t2, c8)]
    assert values == [width, 4 * width, width]  # cpu and c8 fit the width; cpu-fine-t2 is 4x over
    model = DynamicsModel.from_preset("cpu-fine-t2-c8").eval()
    assert model.transformer.proj_out.weight.shape == (width, width)
    clip = torch.randint(0, 256, (1, 25, 3, 96, 128, 3), dtype=torch.uint8)
    with torch.no_grad():
        latents = model.codec.encode_future(clip)
    assert latents.shape == (1, 3, 8, 13, 12, 16)

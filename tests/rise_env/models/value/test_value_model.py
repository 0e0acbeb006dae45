"""ValueModel: shapes, inputs, prefix equality with the VLA, checkpoints, init from a policy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rise_env.models.value import ValueModel, get_value_config
from rise_env.models.vla import AdvantageVLA, Pi05VLA, UnknownPresetError, get_vla_config, save_vla
from rise_env.models.vla.convert import CheckpointShapeError
from rise_env.models.vla.io import save_weights

TASKS = ("sort the bricks", "close the box")


@pytest.fixture(scope="module")
def model() -> ValueModel:
    torch.manual_seed(0)
    m = ValueModel(get_value_config("tiny", task_names=TASKS))
    torch.nn.init.normal_(m.value_head.out.weight, std=0.5)  # non-zero outputs for the tests
    return m.eval()


def frames(b: int, h: int = 32, w: int = 32, seed: int = 0, k: int | None = None) -> np.ndarray:
    shape = (b, 3, h, w, 3) if k is None else (b, k, 3, h, w, 3)
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_values_shapes_and_task_forms(model):
    x = frames(5)
    v = model.values(x, "sort the bricks", batch_size=2)
    assert v.shape == (5,) and v.dtype == np.float32 and np.all(np.abs(v) <= 1)
    np.testing.assert_allclose(model.values(x, 0), v, atol=1e-6)
    np.testing.assert_allclose(model.values(x, [0] * 5), v, atol=1e-6)
    other = model.values(x, torch.tensor([1] * 5))
    assert not np.allclose(other, v), "the instruction must change the value"
    seq = model.values(frames(2, k=4), ["sort the bricks", "close the box"])
    assert seq.shape == (2, 4)
    np.testing.assert_allclose(seq[1], model.values(frames(2, k=4)[1], "close the box"), atol=1e-6)


def test_resizes_other_resolutions_and_pad_mode(model):
    assert model.values(frames(2, 48, 64), 0).shape == (2,)
    padded = ValueModel(get_value_config("tiny", resize_mode="pad"))
    pix = padded.preprocess(torch.full((1, 3, 16, 32, 3), 255, dtype=torch.uint8))
    assert pix.shape == (1, 3, 3, 32, 32)
    assert torch.all(pix[0, 0, :, 8:24] == 1.0) and torch.all(pix[0, 0, :, :8] == -1.0)


def test_bad_inputs_name_the_problem(model):
    with pytest.raises(ValueError, match=r"uint8 \(B, 3, H, W, 3\)"):
        model.values(frames(2).astype(np.float32), 0)
    with pytest.raises(ValueError, match="uint8"):
        model.values(frames(2)[:, :2], 0)
    with pytest.raises(ValueError, match="task index 7"):
        model.values(frames(2), 7)
    with pytest.raises(ValueError, match="3 instructions"):
        model.values(frames(2), ["a", "b", "c"])
    with pytest.raises(UnknownPresetError, match="Did you mean 'cpu'"):
        get_value_config("cpuu")


def test_bounded_outputs_and_zero_init_head():
    fresh = ValueModel(get_value_config("tiny"))
    assert np.all(fresh.values(frames(3), "x") == 0.0)
    for output, lo, hi in (("sigmoid", 0.0, 1.0), ("tanh", -1.0, 1.0)):
        m = ValueModel(get_value_config("tiny", output=output))
        torch.nn.init.normal_(m.value_head.out.weight, std=50.0)
        v = m.values(frames(8), "x")
        assert np.all((v >= lo) & (v <= hi))


def test_presets_meta_device_parameter_counts():
    assert 3.0e6 < ValueModel(get_value_config("cpu")).num_parameters() < 4.0e6
    with torch.device("meta"):
        big = ValueModel(get_value_config("pi05"))
    assert 2.8e9 < big.num_parameters() < 3.0e9
    assert not any(k.startswith("paligemma_with_expert.gemma_expert") for k in big.state_dict())


def test_prefix_hidden_equals_vla_encode_prefix():
    torch.manual_seed(1)
    vla = Pi05VLA(get_vla_config("tiny"))
    value = ValueModel(get_value_config("tiny"))
    assert value.load_prefix(vla.state_dict()) == len(value.prefix_state_dict())
    images = torch.rand(2, 3, 3, 32, 32) * 2 - 1
    masks = torch.tensor([[True, True, True], [True, False, True]])
    tokens, tmask = value.tokenize(["sort the bricks", "close the box now please"])
    want = vla.encode_prefix(images, masks, tokens, tmask).hidden
    got, pad = value.paligemma_with_expert(images, masks, tokens, tmask)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert pad.shape == got.shape[:2]


def test_save_load_roundtrip_bit_exact(model, tmp_path):
    model.save_pretrained(tmp_path / "v")
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["config.json", "model.safetensors"]
    loaded = ValueModel.from_pretrained(tmp_path / "v")
    assert loaded.cfg == model.cfg
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = frames(3, seed=5)
    assert np.array_equal(loaded.values(x, 1), model.values(x, 1))
    model.save_pretrained(tmp_path / "v")  # overwrite in place stays readable
    assert not list(tmp_path.glob(".v.*"))
    with pytest.raises(FileNotFoundError, match="config.json"):
        ValueModel.from_pretrained(tmp_path / "missing")


def test_from_vla_and_policy_checkpoints_copy_prefix_exactly(tmp_path):
    torch.manual_seed(2)
    vla = AdvantageVLA(get_vla_config("tiny"))
    save_vla(vla, tmp_path / "vla")
    src = load_file(str(tmp_path / "vla" / "model.safetensors"))
    # the policy layout: {"policy": {"vla": ...}} next to the same weights
    (tmp_path / "policy").mkdir()
    cfg = {"policy": {"vla": vla.cfg.model_dump(mode="json"), "task": "t"}, "robot": {}}
    (tmp_path / "policy" / "config.json").write_text(json.dumps(cfg))
    save_weights(vla.model, tmp_path / "policy" / "model.safetensors")
    for folder in ("vla", "policy"):
        value = ValueModel.from_policy_checkpoint(tmp_path / folder, head_hidden=(16,))
        prefix = value.prefix_state_dict()
        assert len(prefix) > 10 and set(prefix) <= set(src)
        for key, tensor in prefix.items():
            assert torch.equal(tensor, src[key]), key
        assert value.cfg.head_hidden == (16,) and not value.cfg.backbone.discrete_state_input
        assert np.all(value.values(frames(2), "sort the bricks") == 0.0)  # new head starts at 0
    bigger = get_vla_config("tiny").model_dump()
    bigger["vision"]["image_size"] = (64, 64)
    wrong = ValueModel(get_value_config("tiny", backbone=bigger))
    with pytest.raises(CheckpointShapeError, match="wrong shape"):
        wrong.load_prefix(src)

"""Depth up-scaling (grow.deepened and --add-layers): unchanged at step 0, new blocks learn, runs resume."""

import json

import pytest
import torch
from safetensors.torch import load_file

from rise_env.models.dynamics import DynamicsModel, deepened
from rise_env.models.dynamics.grow import BRANCH_OUTPUTS
from rise_env.models.dynamics.synthetic import moving_squares
from rise_env.train import main


def _trained_like(seed: int = 0) -> DynamicsModel:
    """A tiny model with every weight perturbed, the zero-initialised action/view paths included."""
    torch.manual_seed(seed)
    model = DynamicsModel.from_preset("tiny", null_action=True, action_low=[-1.0] * 14, action_high=[1.0] * 14)
    with torch.no_grad():
        for p in model.transformer.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def test_deepened_model_predicts_exactly_what_it_was_grown_from(one_thread):
    model = _trained_like()
    grown = deepened(model, 2).eval()
    layers = model.config.transformer.num_layers
    assert grown.config.transformer.num_layers == layers + 2 == len(grown.transformer.transformer_blocks)
    ref = model.state_dict()
    assert all(torch.equal(ref[k], v) for k, v in grown.state_dict().items() if k in ref)
    b = moving_squares(model.config, 2, seed=1)
    args = (b["memory_frames"], b["state"], b["actions"])
    with torch.no_grad():
        assert torch.equal(grown.imagine(*args, steps=2, seeds=[0, 1]), model.imagine(*args, steps=2, seeds=[0, 1]))
        guided = dict(steps=2, seeds=[3, 4], guidance=2.5)
        assert torch.equal(grown.imagine(*args, **guided), model.imagine(*args, **guided))


def test_new_blocks_start_as_identity_and_then_learn(one_thread):
    model = _trained_like()
    grown = deepened(model, 2).train()
    layers = model.config.transformer.num_layers
    new_block = grown.transformer.transformer_blocks[layers]
    batch = grown.encode_batch(moving_squares(grown.config, 4, seed=0))
    optimizer = torch.optim.SGD(grown.transformer.parameters(), lr=0.1)

    grown.loss(batch, generator=torch.Generator().manual_seed(0)).mean().backward()
    for name in BRANCH_OUTPUTS:  # the zeroed branch ends learn at once
        assert new_block.get_submodule(name).weight.grad.abs().sum() > 0
    assert new_block.attn1.to_q.weight.grad.abs().sum() == 0  # behind a zero projection: no gradient yet
    optimizer.step()
    optimizer.zero_grad()
    grown.loss(batch, generator=torch.Generator().manual_seed(0)).mean().backward()
    assert new_block.attn1.to_q.weight.grad.abs().sum() > 0  # the whole block trains from the second step


def test_deepened_refuses_a_layer_count_that_is_not_positive():
    model = _trained_like()
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="extra_layers must be a positive integer"):
            deepened(model, bad)


def _argv(data, out, *extra):
    base = ["dynamics", "--data", str(data), "--out", str(out), "--preset", "tiny", "--batch-size", "2"]
    return base + ["--val-fraction", "0.34", "--no-progress", "--threads", "1", *extra]


def test_add_layers_run_grows_once_and_resumes_at_its_depth(tiny_dynamics_dataset, tmp_path, one_thread):
    pre, grown = tmp_path / "pre", tmp_path / "grown"
    assert main(_argv(tiny_dynamics_dataset, pre, "--steps", "2", "--vae-steps", "2")) == 0
    extra = ("--init-from", str(pre), "--add-layers", "2", "--checkpoint-every", "2")
    assert main(_argv(tiny_dynamics_dataset, grown, *extra, "--steps", "2")) == 0
    assert json.loads((grown / "run.json").read_text())["config"]["add_layers"] == 2
    assert main(_argv(tiny_dynamics_dataset, grown, *extra, "--steps", "3", "--resume")) == 0  # not grown again
    config = json.loads((grown / "model" / "config.json").read_text())
    layers = json.loads((pre / "model" / "config.json").read_text())["transformer"]["num_layers"]
    assert config["transformer"]["num_layers"] == layers + 2
    before = load_file(str(pre / "model" / "model.safetensors"))
    after = load_file(str(grown / "model" / "model.safetensors"))
    new_keys = {k for k in after if k not in before}
    appended = tuple(f"transformer.transformer_blocks.{i}." for i in (layers, layers + 1))
    assert new_keys and all(k.startswith(appended) for k in new_keys)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("codec."))  # the VAE stays frozen


def test_add_layers_without_init_from_is_refused(tiny_dynamics_dataset, tmp_path):
    with pytest.raises(ValueError, match="add_layers=2 deepens the transformer of init_from"):
        main(_argv(tiny_dynamics_dataset, tmp_path / "run", "--add-layers", "2", "--steps", "1"))

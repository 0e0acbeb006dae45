"""Pickle-free training checkpoints: bit-exact continuation, complete-or-absent folders."""

import json

import pytest
import torch

from rise_env.utils import checkpointing
from rise_env.utils.checkpointing import (
    checkpoint_dirs,
    checkpoint_path,
    generator_state,
    load_training_checkpoint,
    prune_checkpoints,
    save_training_checkpoint,
    set_generator_state,
)


def _setup(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(4, 2)
    return net, torch.optim.AdamW(net.parameters(), lr=1e-2), torch.Generator().manual_seed(seed)


def _step(net, opt, gen):
    x = torch.randn(8, 4, generator=gen) + torch.randn(8, 4)  # private and global RNG both used
    loss = net(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def _write_net(net):
    return lambda tmp: (tmp / "net.json").write_text(json.dumps({k: v.tolist() for k, v in net.state_dict().items()}))


def test_restored_checkpoint_continues_bit_exactly(tmp_path):
    net, opt, gen = _setup()
    for _ in range(3):
        _step(net, opt, gen)
    path = save_training_checkpoint(
        checkpoint_path(tmp_path, 3), _write_net(net), opt, {"step": 3, "gen": generator_state(gen)}
    )
    expected = [_step(net, opt, gen) for _ in range(3)]

    net2, opt2, gen2 = _setup(seed=1)
    saved = json.loads((path / "net.json").read_text())
    net2.load_state_dict({k: torch.tensor(v) for k, v in saved.items()})
    state = load_training_checkpoint(path, opt2)
    set_generator_state(gen2, state["gen"])
    assert state["step"] == 3 and [_step(net2, opt2, gen2) for _ in range(3)] == expected


def test_failed_save_leaves_no_folder_and_pruning_keeps_newest(tmp_path, monkeypatch):
    net, opt, gen = _setup()
    _step(net, opt, gen)
    for step in (1, 2, 3):
        save_training_checkpoint(checkpoint_path(tmp_path, step), _write_net(net), opt, {"step": step})

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpointing, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_training_checkpoint(checkpoint_path(tmp_path, 4), _write_net(net), opt, {"step": 4})
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_00000001", "step_00000002", "step_00000003"]  # no step_4, no temp folder
    prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step_00000002", "step_00000003"]
    with pytest.raises(FileNotFoundError, match="trainer_state.json"):
        load_training_checkpoint(tmp_path / "nothing", opt)

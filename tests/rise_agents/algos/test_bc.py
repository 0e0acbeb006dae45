"""BC on a tiny synthetic dataset: loss decreases, exact resume, atomic checkpoints, schedule, optimiser I/O."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rise_agents.algos import checkpoint as ckpt
from rise_agents.algos.base import lr_at
from rise_agents.algos.bc import BC
from rise_agents.algos.config import get_train_config
from rise_agents.algos.testing import make_tiny_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("ds") / "tiny", demos=3, rollouts=1)


def _cfg(dataset, out, **kw):
    return get_train_config("bc", "tiny", data=str(dataset), out=str(out), num_threads=1, **kw)


def _fixed_loss(algo: BC) -> float:
    batch = algo.dataset.batch(np.arange(len(algo.dataset)))
    algo.policy.eval()
    with torch.no_grad():
        return float(algo.policy.loss(batch, generator=torch.Generator().manual_seed(123)).mean())


def test_bc_uses_demos_only_and_top_bin(dataset, tmp_path):
    algo = BC(_cfg(dataset, tmp_path / "run"), progress=False)
    sources = {algo.reader.episodes[e].source for e in algo.dataset.episodes}
    assert sources == {"demo"} and len(algo.dataset.episodes) == 3
    batch = algo.dataset.batch(np.array([0, len(algo.dataset) - 1]))
    h = algo.policy.config.vla.action_horizon
    assert batch["actions"].shape == (2, h, 14) and batch["top"].shape == (2, 32, 32, 3)
    assert batch["advantage_bin"].tolist() == [10, 10]
    assert batch["action_is_pad"][1].sum() == h - 1  # last frame: one real action, padded with it
    np.testing.assert_array_equal(batch["actions"][1], np.repeat(batch["actions"][1][:1], h, axis=0))


def test_loss_decreases(dataset, tmp_path):
    algo = BC(_cfg(dataset, tmp_path / "run", steps=60, checkpoint_every=60), progress=False)
    before = _fixed_loss(algo)
    algo.train()
    after = _fixed_loss(algo)
    assert after < 0.8 * before, (before, after)
    assert (tmp_path / "run" / "policy" / "model.safetensors").is_file()


def test_resume_repeats_the_uninterrupted_losses(dataset, tmp_path):
    full = BC(_cfg(dataset, tmp_path / "full", steps=12, checkpoint_every=4), progress=False)
    full.train()
    reference = dict(full.history)

    first = BC(_cfg(dataset, tmp_path / "cut", steps=12, checkpoint_every=4), progress=False)
    first.train(stop_after=10)  # interrupted after step 10: the latest checkpoint is step 8
    assert ckpt.list_checkpoints(tmp_path / "cut" / "checkpoints") == [4, 8]
    with pytest.raises(FileExistsError, match="--resume"):
        BC(_cfg(dataset, tmp_path / "cut", steps=12, checkpoint_every=4), progress=False)
    resumed = BC(_cfg(dataset, tmp_path / "cut", steps=12, checkpoint_every=4), resume=True, progress=False)
    assert resumed.start_step == 8
    resumed.train()
    assert [s for s, _ in resumed.history] == [9, 10, 11, 12]
    assert all(loss == reference[s] for s, loss in resumed.history)
    for a, b in zip(full.policy.vla.parameters(), resumed.policy.vla.parameters()):
        assert torch.equal(a, b)
    logged = [json.loads(x)["step"] for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert logged == list(range(1, 13))


def test_resume_refuses_a_different_config(dataset, tmp_path):
    BC(_cfg(dataset, tmp_path / "run", steps=4, checkpoint_every=2), progress=False).train(stop_after=3)
    with pytest.raises(ValueError, match="batch_size"):
        BC(_cfg(dataset, tmp_path / "run", steps=4, checkpoint_every=2, batch_size=3), resume=True, progress=False)


def test_checkpoints_are_complete_or_absent(dataset, tmp_path, monkeypatch):
    algo = BC(_cfg(dataset, tmp_path / "run", steps=6, checkpoint_every=2), progress=False)
    algo.train(stop_after=5)
    root = tmp_path / "run" / "checkpoints"
    assert ckpt.list_checkpoints(root) == [2, 4]

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        algo.save(6, 0.0)
    names = sorted(p.name for p in root.iterdir())
    assert names == ["latest.json", "step_00000002", "step_00000004"]  # no partial step_6, no temp folder
    assert ckpt.latest_checkpoint(root).name == "step_00000004"
    for step in (2, 4):
        d = ckpt.step_dir(root, step)
        for f in ("policy/config.json", "policy/model.safetensors", "policy/ema.safetensors",
                  "policy/norm_stats.json", "optimizer.safetensors", "trainer_state.json"):
            assert (d / f).is_file(), f


def test_optimizer_state_round_trip(dataset, tmp_path):
    algo = BC(_cfg(dataset, tmp_path / "run", steps=3), progress=False)
    algo.train(stop_after=2)
    tensors, groups = ckpt.optimizer_tensors(algo.optimizer)
    fresh = torch.optim.AdamW(algo.policy.vla.parameters(), lr=1.0)
    ckpt.load_optimizer(fresh, tensors, json.loads(json.dumps(groups)))
    a, b = algo.optimizer.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for pid, slots in a["state"].items():
        for key, value in slots.items():
            assert torch.equal(value, b["state"][pid][key])


def test_lr_schedule_warmup_then_cosine():
    cfg = get_train_config("bc", "tiny", steps=110, warmup_steps=10, lr=1e-3, min_lr_ratio=0.1)
    assert lr_at(5, cfg) == pytest.approx(5e-4)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    assert lr_at(110, cfg) == pytest.approx(1e-4)
    lrs = [lr_at(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))

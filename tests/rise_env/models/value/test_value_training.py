"""Value training: TD targets, the progress-only → joint switch, frame bank, resume, learning, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rise_env.data import LeRobotDatasetReader
from rise_env.models.value import (
    FrameBank,
    ValueModel,
    ValueTrainer,
    evaluate_value_model,
    get_value_config,
    get_value_train_config,
    progress_only_steps,
    split_episodes,
    td_targets,
    use_td,
    value_losses,
)
from rise_env.models.value.training import optimizer_from_safe, optimizer_to_safe


def test_td_targets_terminal_and_discount():
    reward = torch.tensor([0.0, 0.0, 1.0, -1.0, 0.0])
    done = torch.tensor([False, False, True, True, False])
    nxt = torch.tensor([0.5, -0.2, 0.9, 0.9, 1.0], requires_grad=True)
    gap = torch.tensor([1.0, 1.0, 0.0, 0.0, 3.0])
    y = td_targets(reward, done, nxt, 0.9, gap)
    torch.testing.assert_close(y, torch.tensor([0.45, -0.18, 1.0, -1.0, 0.729]))
    assert not y.requires_grad  # stop-gradient on the bootstrap
    y = td_targets(reward, done, nxt.detach(), 0.995)
    torch.testing.assert_close(y, torch.tensor([0.4975, -0.199, 1.0, -1.0, 0.995]))
    with pytest.raises(ValueError, match="share shape"):
        td_targets(reward, done[:2], nxt, 0.9)
    with pytest.raises(ValueError, match="gamma"):
        td_targets(reward, done, nxt, 0.0)


def test_value_losses_mask_and_terms():
    v = torch.tensor([0.1, 0.5, 0.9], requires_grad=True)
    out = value_losses(v, torch.tensor([0.0, 1.0, 1.0]), torch.tensor([True, False, True]), None)
    assert set(out) == {"progress", "loss"}
    assert out["progress"].item() == pytest.approx((0.01 + 0.01) / 2)
    out = value_losses(v, torch.zeros(3), torch.zeros(3, dtype=torch.bool), torch.tensor([0.0, 0.5, 1.0]), 1.0, 2.0)
    assert out["progress"].item() == 0.0 and out["loss"].requires_grad
    assert out["loss"].item() == pytest.approx(2.0 * (0.01 + 0 + 0.01) / 3)


def test_phase_switch_at_fraction():
    assert progress_only_steps(50_000, 0.2) == 10_000
    assert [use_td(s, 10, 0.2) for s in range(10)] == [False, False] + [True] * 8
    assert not any(use_td(s, 10, 1.0) for s in range(10)) and all(use_td(s, 10, 0.0) for s in range(10))


@pytest.fixture(scope="module")
def reader(bar_dataset) -> LeRobotDatasetReader:
    return LeRobotDatasetReader(bar_dataset, cache_episodes=16)


def test_frame_bank_columns_and_stride(reader):
    bank = FrameBank(reader, [0, 2], (32, 32), stride=4, progress=False)
    l0 = reader.episodes[0].length  # episode 0: 24 frames, successful demo; episode 2: failed rollout
    keep0 = list(range(0, l0, 4)) + [l0 - 1]
    assert bank.t[: len(keep0)].tolist() == keep0
    assert bank.frames.shape[1:] == (3, 32, 32, 3) and bank.frames.dtype == np.uint8
    last0, last2 = len(keep0) - 1, len(bank) - 1
    assert bank.reward[last0] == 1.0 and bank.reward[last2] == -1.0 and bank.done.sum() == 2
    assert bank.gap[0] == 4 and bank.gap[last0 - 1] == (l0 - 1) - keep0[-2] and bank.gap[last0] == 0
    assert bank.next_row[last0] == last0 and bank.next_row[0] == 1
    assert bank.progress_mask[: last0 + 1].all() and not bank.progress_mask[last0 + 1 :].any()
    np.testing.assert_allclose(bank.progress[: last0 + 1], np.array(keep0) / l0)
    b = bank.batch(np.array([0, last0]))
    assert torch.equal(b["next_obs"][0], b["obs"][0].new_tensor(bank.frames[1]))
    train, val = split_episodes(12, 0.25, 0)
    assert len(val) == 3 and sorted(train + val) == list(range(12)) and split_episodes(12, 0.25, 0) == (train, val)


def _trainer(reader, **kw) -> tuple[ValueTrainer, FrameBank]:
    torch.manual_seed(0)
    model = ValueModel(get_value_config("tiny", task_names=tuple(reader.tasks)))
    cfg = get_value_train_config("tiny", **kw)
    return ValueTrainer(model, cfg), FrameBank(reader, list(range(6)), (32, 32), 2, progress=False)


def test_trainer_switches_to_td_at_the_configured_step(reader):
    trainer, bank = _trainer(reader, steps=5, batch_size=4, progress_only_fraction=0.4, target_ema=0.5)
    logs = [trainer.train_step(bank.sample(4, trainer.rng)) for _ in range(5)]
    assert [bool(x["td_phase"]) for x in logs] == [False, False, True, True, True]
    assert ["td" in x for x in logs] == [False, False, True, True, True]
    online = dict(trainer.model.named_parameters())
    moved = [not torch.equal(p, online[k]) for k, p in trainer.target.named_parameters()]
    assert any(moved)  # Polyak target lags the online net


def test_optimizer_state_safetensors_roundtrip(reader):
    trainer, bank = _trainer(reader, steps=4, batch_size=4)
    trainer.train_step(bank.sample(4, trainer.rng))
    tensors, meta = optimizer_to_safe(trainer.optimizer)
    json.dumps(meta)  # the non-tensor part is plain JSON
    fresh = torch.optim.AdamW(trainer.model.parameters(), lr=1.0)
    optimizer_from_safe(fresh, tensors, meta)
    a, b = trainer.optimizer.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for pid, st in a["state"].items():
        for name, value in st.items():
            assert torch.equal(value, b["state"][pid][name])


def test_resume_gives_identical_losses(reader, tmp_path):
    kw = dict(steps=6, batch_size=4, progress_only_fraction=0.5, target_ema=0.9)
    full, bank = _trainer(reader, **kw)
    ref = [full.train_step(bank.sample(4, full.rng))["loss"] for _ in range(6)]
    first, bank = _trainer(reader, **kw)
    got = [first.train_step(bank.sample(4, first.rng))["loss"] for _ in range(3)]
    first.save_checkpoint(tmp_path / "ckpt")
    second, bank = _trainer(reader, **{**kw, "seed": 123})  # different RNG until the state is loaded
    second.load_checkpoint(tmp_path / "ckpt")
    assert second.step == 3
    got += [second.train_step(bank.sample(4, second.rng))["loss"] for _ in range(3)]
    assert got == ref


def test_tiny_model_learns_progress_on_held_out_episodes(reader):
    """Real learning check: held-out successful episodes get V increasing with t/T."""
    train, val = [0, 1, 2, 3, 4, 5, 6, 8, 9], [7, 10, 11]  # val: 7 (ok), 10 (ok), 11 (failed)
    torch.manual_seed(0)
    model = ValueModel(get_value_config("tiny", task_names=tuple(reader.tasks)))
    cfg = get_value_train_config("tiny", steps=90, batch_size=16, progress_only_fraction=0.7)
    trainer = ValueTrainer(model, cfg)
    bank = FrameBank(reader, train, (32, 32), 1, progress=False)
    for _ in range(cfg.steps):
        logs = trainer.train_step(bank.sample(cfg.batch_size, trainer.rng))
    assert logs["progress"] < 0.1
    result = evaluate_value_model(model, reader, val, progress=False)
    assert result["episodes"] == {"total": 3, "success": 2, "failure": 1}
    assert result["spearman_progress"] > 0.9, result
    assert result["auc_success_failure"] == 1.0, result


def test_cli_train_resume_and_evaluate(bar_dataset, tmp_path):
    from rise_env.evaluate import main as evaluate_main
    from rise_env.train import main as train_main

    run = tmp_path / "run"
    args = ["value", "--data", str(bar_dataset), "--out", str(run), "--preset", "tiny", "--batch-size", "4"]
    assert train_main([*args, "--steps", "4", "--checkpoint-every", "2", "--no-eval"]) == 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000002", "step_00000004"]
    assert train_main([*args, "--steps", "6", "--checkpoint-every", "2"]) == 0  # resumes at step 4
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000004", "step_00000006"]
    state = json.loads((run / "checkpoints" / "step_00000006" / "trainer_state.json").read_text())
    assert state["step"] == 6 and (run / "eval_val.json").is_file() and (run / "value_curves_val.png").is_file()
    out = tmp_path / "value_bars.json"
    assert (
        evaluate_main(
            [
                "value",
                "--data",
                str(bar_dataset),
                "--checkpoint",
                str(run),
                "--out",
                str(out),
                "--episodes",
                "val",
                "--frame-stride",
                "3",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    for key in ("spearman_progress", "auc_success_failure", "episodes", "command", "git_commit", "date", "machine"):
        assert key in result
    assert result["episode_indices"] == json.loads((run / "run.json").read_text())["val_episodes"]
    assert result["data_fingerprint"] == LeRobotDatasetReader(bar_dataset).fingerprint  # which collection
    assert out.with_suffix(".png").is_file()
    n = LeRobotDatasetReader(bar_dataset).num_episodes
    with pytest.raises(ValueError, match=rf"indices must lie in \[0, {n}\), got \[{n}\]"):
        evaluate_main(["value", "--data", str(bar_dataset), "--checkpoint", str(run), "--out", str(tmp_path / "x.json"),
                       "--episodes", f"0,{n}"])
    assert not (tmp_path / "x.json").exists()


def test_cli_ablation_flags_reach_the_saved_config(bar_dataset, tmp_path):
    from rise_env.train import main as train_main

    run = tmp_path / "td_only"
    args = ["value", "--data", str(bar_dataset), "--out", str(run), "--preset", "tiny", "--batch-size", "2",
            "--steps", "1", "--no-eval", "--progress-only-fraction", "0", "--progress-weight", "0", "--td-weight", "2"]
    assert train_main(args) == 0
    saved = json.loads((run / "run.json").read_text())["train"]
    assert (saved["progress_only_fraction"], saved["progress_weight"], saved["td_weight"]) == (0.0, 0.0, 2.0)

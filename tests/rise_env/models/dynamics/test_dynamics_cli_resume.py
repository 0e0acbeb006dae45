"""``python -m rise_env.train dynamics``: checkpoints, bit-exact resume, refused config changes, finetune."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from rise_env.models.dynamics.training import DynamicsTrainer
from rise_env.models.dynamics.vae import AutoencoderTrainer
from rise_env.train import main
from rise_env.utils.atomic import read_json


def _argv(data, out, *extra):
    base = ["dynamics", "--data", str(data), "--out", str(out), "--preset", "tiny", "--batch-size", "2"]
    base += ["--warmup-steps", "2", "--val-fraction", "0.34", "--no-progress", "--threads", "1"]
    return base + list(extra)


def _losses(run):
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    return [(r["phase"], r["step"], r["loss"]) for r in rows]


def _interrupt_vae_at(monkeypatch, call):
    real, calls = AutoencoderTrainer.step, []

    def step(self, frames, generator=None, lr=None):
        calls.append(1)
        if len(calls) > call:
            raise KeyboardInterrupt
        return real(self, frames, generator, lr)

    monkeypatch.setattr(AutoencoderTrainer, "step", step)


def _interrupt_after(monkeypatch, steps_done):
    real = DynamicsTrainer.step

    def step(self, batch):
        if self.steps_done == steps_done:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(DynamicsTrainer, "step", step)


def _checkpoint_names(run):
    return sorted(p.name for p in (run / "checkpoints").iterdir()) if (run / "checkpoints").exists() else []


def test_interrupted_runs_resume_bit_exactly(tiny_dynamics_dataset, tmp_path, monkeypatch, one_thread):
    args = ("--steps", "6", "--vae-steps", "3", "--checkpoint-every", "2")
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main(_argv(tiny_dynamics_dataset, full, *args)) == 0
    assert _checkpoint_names(full) == ["step_00000004", "step_00000006"]  # newest 2 kept

    with monkeypatch.context() as m:  # stop in the VAE phase after its checkpoint at VAE step 2
        _interrupt_vae_at(m, 2)
        with pytest.raises(KeyboardInterrupt):
            main(_argv(tiny_dynamics_dataset, cut, *args))
    assert _checkpoint_names(cut) == ["vae_00000002"] and not (cut / "vae").exists()
    with monkeypatch.context() as m:  # resume the VAE; stop after 1 step: RUN/vae saved, no checkpoint yet
        _interrupt_after(m, 1)
        with pytest.raises(KeyboardInterrupt):
            main(_argv(tiny_dynamics_dataset, cut, *args))
    assert (cut / "vae" / "model.safetensors").is_file() and _checkpoint_names(cut) == []  # vae_* removed
    with monkeypatch.context() as m:  # resume from RUN/vae, stop after step 3 (checkpoint at 2)
        _interrupt_after(m, 3)
        with pytest.raises(KeyboardInterrupt):
            main(_argv(tiny_dynamics_dataset, cut, *args))
    assert _checkpoint_names(cut) == ["step_00000002"]  # complete folders only, no temp leftovers
    ckpt = cut / "checkpoints" / "step_00000002"
    assert sorted(p.name for p in ckpt.iterdir()) == ["model", "optimizer.safetensors", "trainer_state.json"]
    assert not [p for p in (cut / "checkpoints").iterdir() if p.name.startswith(".")]

    assert main(_argv(tiny_dynamics_dataset, cut, *args)) == 0  # automatic resume from step 2
    assert _losses(cut) == _losses(full)  # VAE rows once, then dynamics steps 0..5, equal to the bit
    a, b = load_file(str(full / "model" / "model.safetensors")), load_file(str(cut / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_changed_config_but_extends_steps(tiny_dynamics_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_argv(tiny_dynamics_dataset, run, "--steps", "1", "--vae-steps", "0")) == 0
    assert main(_argv(tiny_dynamics_dataset, run, "--steps", "1", "--lr", "0.001", "--seed", "3")) == 2
    err = capsys.readouterr().err
    assert "lr: run has 0.0001, given 0.001" in err and "seed: run has 0, given 3" in err
    assert main(_argv(tiny_dynamics_dataset, run, "--steps", "2", "--resume")) == 0  # more steps: allowed
    assert [s for p, s, _ in _losses(run) if p == "dynamics"] == [0, 1]
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        main(_argv(tiny_dynamics_dataset, tmp_path / "empty", "--resume", "--vae-steps", "0"))


def _lrs(run):
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    return [r["lr"] for r in rows if r["phase"] == "dynamics"]


def test_a_cooldown_branches_off_a_constant_lr_run_on_resume(tiny_dynamics_dataset, tmp_path):
    run = tmp_path / "run"  # warm-up 2 (from _argv), then the constant 1e-4
    assert main(_argv(tiny_dynamics_dataset, run, "--steps", "4", "--vae-steps", "0")) == 0
    assert main(_argv(tiny_dynamics_dataset, run, "--steps", "8", "--cooldown-steps", "4", "--resume")) == 0
    assert _lrs(run) == pytest.approx([x * 1e-4 for x in (0.5, 1, 1, 1, 1, 0.75, 0.5, 0.25)])
    assert read_json(run / "run.json")["config"]["cooldown_steps"] == 4
    with pytest.raises(ValueError, match="cooldown_steps=9 is more than steps=8"):
        main(_argv(tiny_dynamics_dataset, run, "--steps", "8", "--cooldown-steps", "9"))
    assert read_json(run / "run.json")["config"]["cooldown_steps"] == 4  # refused before anything was written


def test_a_vae_cooldown_branches_off_a_constant_lr_vae_phase_on_resume(
    tiny_dynamics_dataset, tmp_path, monkeypatch, one_thread
):
    run = tmp_path / "run"  # the VAE on random 16x16 crops of the 32x32 frames
    args = ("--steps", "1", "--vae-crop", "16", "16", "--checkpoint-every", "2")
    with monkeypatch.context() as m:  # stop the constant-rate VAE phase after its checkpoint at step 2
        _interrupt_vae_at(m, 3)
        with pytest.raises(KeyboardInterrupt):
            main(_argv(tiny_dynamics_dataset, run, "--vae-steps", "4", *args))
    with pytest.raises(ValueError, match="vae_cooldown_steps=7 is more than vae_steps=6"):
        main(_argv(tiny_dynamics_dataset, run, "--vae-steps", "6", "--vae-cooldown-steps", "7", *args))
    assert main(_argv(tiny_dynamics_dataset, run, "--vae-steps", "6", "--vae-cooldown-steps", "3", *args)) == 0
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    vae = [r for r in rows if r["phase"] == "vae"]
    assert [r["step"] for r in vae] == [0, 1, 2, 3, 4, 5]  # the interrupted row 2 once
    assert [r["lr"] for r in vae] == pytest.approx([1e-3, 1e-3, 1e-3, 1e-3, 2e-3 / 3, 1e-3 / 3])
    assert read_json(run / "run.json")["config"]["vae_crop"] == [16, 16]


def test_a_new_run_without_lr_takes_its_model_presets_rate(tiny_dynamics_dataset, tmp_path):
    from rise_env.models.dynamics.config import PRESETS
    from rise_env.models.dynamics.run import default_lr
    from rise_env.models.dynamics.runconfig import PRESET_LR

    assert default_lr({"preset": "cpu"}) == default_lr({}) == 3e-3  # measured for the small cpu transformer
    assert default_lr({"preset": "cpu-fine-t2-c8"}) == 3e-3  # the same width-128 transformer
    assert default_lr({"preset": "ltx"}) == default_lr({"preset": "tiny"}) == 1e-4
    assert set(PRESET_LR) <= set(PRESETS)  # a misspelt key would silently give its preset 1e-4
    run = tmp_path / "run"
    assert main(_argv(tiny_dynamics_dataset, run, "--steps", "1", "--vae-steps", "0")) == 0
    assert read_json(run / "run.json")["config"]["lr"] == 1e-4
    # fine-tuning takes the rate of the model it starts from, whatever --preset says
    assert default_lr({"preset": "cpu", "init_from": str(run)}) == 1e-4
    assert main(_argv(tiny_dynamics_dataset, run, "--steps", "2", "--resume")) == 0  # the saved rate, unchanged
    assert read_json(run / "run.json")["config"]["lr"] == 1e-4


def test_resume_refuses_a_dataset_collected_again_at_the_same_path(write_tiny_dynamics_dataset, tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    write_tiny_dynamics_dataset(data, seed=0)
    assert main(_argv(data, run, "--steps", "1", "--vae-steps", "0")) == 0
    fingerprint = read_json(run / "run.json")["data_fingerprint"]
    shutil.rmtree(data)
    write_tiny_dynamics_dataset(data, seed=0)  # the same collection again: resumes
    assert main(_argv(data, run, "--steps", "2", "--resume")) == 0
    shutil.rmtree(data)
    write_tiny_dynamics_dataset(data, seed=7)  # same shapes and lengths, other content
    with pytest.raises(ValueError, match=rf"not the collection this run trained on .*the run's {fingerprint[:12]}"):
        main(_argv(data, run, "--steps", "3", "--resume"))


def test_finetune_keeps_the_held_out_split_and_filters_the_task(tiny_dynamics_dataset, tmp_path):
    pre, fine = tmp_path / "pre", tmp_path / "fine"
    assert main(_argv(tiny_dynamics_dataset, pre, "--steps", "1", "--vae-steps", "0")) == 0
    split = read_json(pre / "run.json")
    assert sorted(split["train_episodes"] + split["val_episodes"]) == [0, 1, 2] and len(split["val_episodes"]) == 1
    extra = ("--stage", "finetune", "--init-from", str(pre), "--task", "sort the bricks", "--steps", "1")
    assert main(_argv(tiny_dynamics_dataset, fine, *extra)) == 0
    run = read_json(fine / "run.json")
    assert run["task_index"] == 0 and run["config"]["stage"] == "finetune"
    assert set(run["train_episodes"]) <= {0, 2} and set(run["val_episodes"]) == {0, 2} & set(split["val_episodes"])
    with pytest.raises(ValueError, match="--task selects"):
        main(_argv(tiny_dynamics_dataset, tmp_path / "bad", "--task", "0", "--vae-steps", "0"))
    with pytest.raises(ValueError, match="neither a task string"):
        main(_argv(tiny_dynamics_dataset, tmp_path / "bad2", *extra[:4], "--task", "open the door"))

"""``python -m rise_agents.train``: presets, flag overrides, did-you-mean, a tiny BC run and its resume."""

from __future__ import annotations

import json

import pytest

from rise_agents import train
from rise_agents.algos.config import get_train_config
from rise_agents.algos.testing import make_tiny_dataset
from rise_env.models.vla.config import UnknownPresetError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("ds") / "tiny", demos=2, rollouts=1, length=16)


def test_algo_typo_answers_did_you_mean(capsys):
    assert train.main(["--algo", "bcc", "--data", "x"]) == 2
    err = capsys.readouterr().err
    assert "unknown algorithm 'bcc'" in err and "Did you mean 'bc'" in err


def test_preset_typo_and_planned_algorithm(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out (runs/...) must not see a developer's own runs
    assert train.main(["--algo", "bc", "--preset", "cpuu", "--data", "x"]) == 2
    assert "Did you mean 'cpu'" in capsys.readouterr().err
    assert train.main(["--algo", "ppo", "--data", "x"]) == 2
    assert "not available yet" in capsys.readouterr().err
    assert train.main(["--algo", "recap", "--preset", "tiny", "--data", "no/such/dir"]) == 2
    assert "no/such/dir" in capsys.readouterr().err
    with pytest.raises(UnknownPresetError, match="task"):
        get_train_config("bc", "tiny", task="brick_sortin")


def test_every_field_is_documented_and_flags_override():
    from rise_agents.algos.config import TrainConfig

    assert all(f.description for f in TrainConfig.model_fields.values())
    args = train.build_parser().parse_args(["--batch-size", "3", "--include-corrections", "--betas", "0.8", "0.9"])
    assert (args.batch_size, args.include_corrections, args.betas) == (3, True, [0.8, 0.9])
    cfg = get_train_config("bc", "cpu", batch_size=3, betas=(0.8, 0.9))
    assert cfg.batch_size == 3 and cfg.policy_preset == "cpu" and cfg.betas == (0.8, 0.9)


def test_tiny_bc_run_and_resume(dataset, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["--algo", "bc", "--preset", "tiny", "--task", "brick_sorting", "--data", str(dataset), "--out", str(out),
            "--batch-size", "2", "--checkpoint-every", "4", "--no-progress"]
    assert train.main([*base, "--steps", "6"]) == 0
    assert (out / "policy" / "config.json").is_file()
    assert json.loads((out / "final.json").read_text()) == {"step": 6, "finished": True}
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["batch_size"] == 2 and saved["algo"] == "bc" and saved["preset"] == "tiny"
    assert train.main([*base, "--steps", "6"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert train.main([*base, "--steps", "8", "--resume"]) == 2  # a longer schedule is a different run
    assert "steps: saved 6 vs now 8" in capsys.readouterr().err
    assert train.main([*base, "--steps", "6", "--resume", "--log-every", "2"]) == 0  # logging may change
    assert "starting at step 6/6" in capsys.readouterr().out

"""The main job's code path on the bundled default (a few steps instead of the full schedule)."""

from __future__ import annotations

import json

from rise_agents import train
from rise_agents.algos.config import get_train_config
from rise_agents.algos.recap_online import bundled_policy_dir
from rise_agents.policies import AdvantageConditionedPolicy
from rise_env.envs.factory import load_world_model


def test_default_preset_uses_the_bundled_assets_only():
    cfg = get_train_config("recap-online")
    assert cfg.preset == "cpu" and cfg.data is None and cfg.world_model is None and cfg.init_from is None
    assert cfg.offline_ratio == 0.6 and cfg.ema_decay == 0.995 and cfg.rollout_chunks == 2
    policy = AdvantageConditionedPolicy.from_pretrained(bundled_policy_dir("brick_sorting"))
    assert policy.config.vla.action_horizon == load_world_model().chunk_size == 50


def test_main_job_runs_on_the_bundled_default(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--algo", "recap-online", "--out", str(out), "--steps", "2", "--steps-per-stage", "2",
            "--rollout-slots", "1", "--rollout-chunks", "1", "--eval-trials", "0", "--no-progress"]
    assert train.main(argv) == 0
    assert "starting at step 0/2" in capsys.readouterr().out
    stages = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert len(stages) == 1 and stages[0]["online_samples"] == 1 and -1 <= stages[0]["advantage_mean"] <= 1
    assert json.loads((out / "final.json").read_text()) == {"step": 2, "finished": True}
    AdvantageConditionedPolicy.from_pretrained(out / "policy")

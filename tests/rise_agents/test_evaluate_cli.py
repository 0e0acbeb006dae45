"""``python -m rise_agents.evaluate``: short twin trials with a tiny policy, determinism, result schema."""

from __future__ import annotations

import json

import pytest

from rise_agents import evaluate
from rise_agents.evaluation import validate_policy_result, wilson_interval
from rise_agents.policies import AdvantageConditionedPolicy, get_policy_config

FIGURES = ("task", "env", "policy", "trials", "seeds", "success_rate", "success_ci95", "mean_score")


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("policy") / "tiny"
    AdvantageConditionedPolicy(get_policy_config("tiny")).save_pretrained(path)
    return path


def _args(policy, out, seed=3):
    return ["--policy", str(policy), "--env", "twin", "--task", "brick_sorting", "--trials", "2", "--seed", str(seed),
            "--execute-steps", "4", "--time-limit-s", "1.0", "--num-bricks", "1", "--height", "24", "--width", "32",
            "--num-threads", "1", "--no-progress", "--out", str(out)]


def _figures(path):
    data = json.loads(path.read_text())
    trials = [{k: v for k, v in t.items() if k not in ("wall_s", "video")} for t in data["per_trial"]]
    return {k: data[k] for k in FIGURES}, trials


def test_identical_seeds_give_identical_results(policy_dir, tmp_path, capsys):
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    assert evaluate.main([*_args(policy_dir, a), "--video-dir", str(tmp_path / "vid"), "--video-trials", "1"]) == 0
    assert evaluate.main(_args(policy_dir, b)) == 0
    assert _figures(a) == _figures(b)
    data = json.loads(a.read_text())
    validate_policy_result(data)
    assert data["seeds"] == [3, 4] and data["command"].startswith("python -m rise_agents.evaluate")
    assert all(t["chunks"] == 8 for t in data["per_trial"])  # 30 steps in chunks of 4
    videos = sorted((tmp_path / "vid").iterdir())
    assert [v.name for v in videos] == ["tiny_seed0003.mp4"] and videos[0].stat().st_size > 0
    assert "success" in capsys.readouterr().out
    # the noise is seeded per trial: other seeds give other actions (the final state differs)
    assert evaluate.main(_args(policy_dir, c, seed=5)) == 0
    assert json.loads(c.read_text())["seeds"] == [5, 6]


def test_expert_through_the_same_loop(tmp_path):
    out = tmp_path / "expert.json"
    args = _args("expert", out)
    args[args.index("--time-limit-s") + 1] = "4.0"
    assert evaluate.main(args) == 0
    data = json.loads(out.read_text())
    validate_policy_result(data)
    assert data["policy"] == "expert" and all(t["events"] for t in data["per_trial"])


def test_schema_and_interval():
    lo, hi = wilson_interval(7, 20)
    assert lo == pytest.approx(0.1812, abs=1e-3) and hi == pytest.approx(0.5671, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    bad = {"task": "brick_sorting"}
    with pytest.raises(ValueError, match="missing 'env'"):
        validate_policy_result(bad)


def test_execute_steps_longer_than_the_chunk_is_refused(policy_dir, tmp_path):
    args = _args(policy_dir, tmp_path / "x.json")
    args[args.index("--execute-steps") + 1] = "9"
    with pytest.raises(ValueError, match="exceeds the policy's chunk length H=8"):
        evaluate.main(args)

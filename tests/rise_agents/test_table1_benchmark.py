"""benchmarks/table1.py: rows on the same seeds, JSON + markdown written, bad --policy refused."""

import json

import pytest
import torch

from rise_agents.policies import AdvantageConditionedPolicy, get_policy_config


@pytest.fixture
def bench(load_script):
    return load_script("benchmarks/table1.py")


def test_rows_share_seeds_and_files_are_written(tmp_path, bench):
    torch.manual_seed(0)
    vla = get_policy_config("tiny").vla.model_copy(update={"action_horizon": 50})  # chunks of 50, 25 executed
    AdvantageConditionedPolicy(get_policy_config("tiny", vla=vla)).save_pretrained(tmp_path / "policy")
    out = tmp_path / "table.json"
    argv = ["--policy", f"bc={tmp_path / 'policy'}", "--policy", f"rise={tmp_path / 'policy'}", "--trials", "2",
            "--seed", "7", "--height", "32", "--width", "32", "--workers", "1", "--time-limit-s", "0.5",
            "--out", str(out)]
    assert bench.main(argv) == 0
    result = json.loads(out.read_text())
    assert list(result["rows"]) == ["bc", "rise"]
    for row in result["rows"].values():
        assert row["seeds"] == [7, 8] and len(row["per_trial"]) == 2
        assert row["success_ci95"][0] <= row["success_rate"] <= row["success_ci95"][1]
    # same policy, same seeds -> same trials (the comparison is paired)
    strip = lambda r: [(t["seed"], t["success"], t["score"]) for t in r["per_trial"]]  # noqa: E731
    assert strip(result["rows"]["bc"]) == strip(result["rows"]["rise"])
    table = out.with_suffix(".md").read_text()
    assert "| bc |" in table and "| rise |" in table and "35%" in table  # paper column for known rows
    assert result["paired_score_differences"] == {}  # the default pairs need a recap row


def test_paired_difference_is_trial_by_trial(bench):
    row = lambda scores: {"per_trial": [{"seed": s, "score": v} for s, v in zip([3, 1, 2], scores)]}  # noqa: E731
    d = bench.paired_difference(row([4.0, 2.0, 3.0]), row([1.0, 1.0, 1.0]))
    assert d["mean"] == pytest.approx(2.0) and d["trials"] == 3
    assert d["ci95_half_width"] == pytest.approx(1.96 * 1.0 / 3**0.5)  # differences 3, 1, 2: sd 1
    other = {"per_trial": [{"seed": 9, "score": 0.0}, {"seed": 1, "score": 0.0}, {"seed": 2, "score": 0.0}]}
    with pytest.raises(ValueError, match="different seeds"):
        bench.paired_difference(row([1.0, 1.0, 1.0]), other)


def test_bad_policy_arguments_are_refused(tmp_path, capsys, bench):
    with pytest.raises(SystemExit):
        bench.main(["--policy", "no-equals-sign"])
    assert "expected NAME=DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--policy", f"bc={tmp_path / 'missing'}"])
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--policy", f"bc={tmp_path}", "--compare", "rise-bc"])
    assert "expected A-B with rows A and B" in capsys.readouterr().err

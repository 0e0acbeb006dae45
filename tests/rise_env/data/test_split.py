"""The evaluations' ``--episodes``: ``all``, ``val`` or a list, parsed and range-checked in one place."""

import json

import pytest

from rise_env.data.split import choose_episodes, parse_episode_list, run_held_out_episodes


def test_episode_list_is_parsed_in_order_and_range_checked():
    assert parse_episode_list("3, 7,1", 10) == [3, 7, 1]
    with pytest.raises(ValueError, match=r"\[0, 10\), got \[10, -1\]"):
        parse_episode_list("2,10,-1", 10)
    with pytest.raises(ValueError, match="got none"):
        parse_episode_list(" , ", 10)


def test_a_word_the_caller_does_not_take_names_the_ones_it_does():
    with pytest.raises(ValueError, match="'all', 'held-out' or comma-separated"):
        parse_episode_list("first", 10, keywords=("all", "held-out"))
    with pytest.raises(ValueError, match="'all', 'val' or comma-separated"):
        parse_episode_list("first", 10)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_held_out_episodes_come_from_the_run_json_up_to_two_folders_above(tmp_path, depth):
    (tmp_path / "run.json").write_text(json.dumps({"val_episodes": [4, 9]}))
    checkpoint = tmp_path.joinpath(*["model", "dynamics"][:depth])
    checkpoint.mkdir(parents=True, exist_ok=True)
    assert run_held_out_episodes(checkpoint) == [4, 9]


def test_no_run_json_or_no_held_out_episode_is_refused(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (tmp_path / "run.json").write_text(json.dumps({"val_episodes": [1]}))  # three folders up: not looked at
    with pytest.raises(FileNotFoundError, match="needs a run directory with run.json"):
        run_held_out_episodes(deep)
    (deep / "run.json").write_text(json.dumps({"val_episodes": []}))
    with pytest.raises(ValueError, match="val_fraction 0"):
        run_held_out_episodes(deep)


def test_all_val_and_a_list_choose_the_episodes(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"val_episodes": [2, 5]}))
    assert choose_episodes("all", tmp_path, 4) == [0, 1, 2, 3]
    assert choose_episodes("val", tmp_path / "model", 6) == [2, 5]
    assert choose_episodes("3,1", tmp_path, 4) == [3, 1]
    with pytest.raises(ValueError, match=r"\[0, 4\), got \[4\]"):
        choose_episodes("4", tmp_path, 4)

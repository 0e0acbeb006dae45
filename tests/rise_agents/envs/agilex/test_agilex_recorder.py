"""Recording executed chunks as LeRobotDataset v3.0 episodes (demos, rollouts, corrections)."""

import numpy as np
import pytest

from rise_agents.envs.agilex import EpisodeRecorder, frame_counter


def hold_chunk(state, horizon):
    return np.tile(np.asarray(state, dtype=np.float64), (horizon, 1))


def test_recorder_turns_steps_into_an_episode(make_rig, tmp_path):
    data = pytest.importorskip("rise_env.data")
    recorder = EpisodeRecorder()
    rig = make_rig(image_height=48, image_width=64, env_kwargs={"recorder": recorder})
    env = rig.env
    obs, _ = env.reset()
    _, _, _, _, info1 = env.step(hold_chunk(obs["state"], 10))
    with recorder.intervening():
        _, _, _, _, info2 = env.step(hold_chunk(obs["state"], 10))
    assert recorder.length == 20
    ep = recorder.finish("sort the bricks", source="correction", success=True, final_score=10.0)
    assert recorder.length == 0
    assert ep.states.shape == (20, 14) and ep.actions.shape == (20, 14)
    np.testing.assert_allclose(ep.actions, np.concatenate([info1["executed_actions"], info2["executed_actions"]]))
    np.testing.assert_allclose(ep.states, np.concatenate([info1["states"], info2["states"]]))
    assert set(ep.images) == {"top", "left_wrist", "right_wrist"} and ep.images["top"].shape == (20, 48, 64, 3)
    counters = [frame_counter(im) for im in ep.images["top"]]
    assert counters == sorted(counters)  # one frame per tick, in time order
    assert ep.intervention.tolist() == [False] * 10 + [True] * 10
    cfg = data.DatasetConfig(robot=rig.config.robot_spec())
    writer = data.LeRobotDatasetWriter(tmp_path / "ds", cfg)
    assert EpisodeRecorder.save(writer, ep) == 0
    report = writer.finalize()
    assert report.episodes == 1 and report.frames == 20
    loaded = data.LeRobotDatasetReader(tmp_path / "ds").load_episode(0)
    np.testing.assert_allclose(loaded.actions, ep.actions, atol=1e-6)
    assert loaded.intervention.tolist() == ep.intervention.tolist() and loaded.source == "correction"


def test_add_frame_for_teleop_and_clear_errors():
    rec = EpisodeRecorder()
    img = np.zeros((4, 6, 3), np.uint8)
    with pytest.raises(ValueError, match="missing camera"):
        rec.add_frame({"top": img}, np.zeros(14), np.zeros(14))
    for _ in range(3):
        rec.add_frame({"top": img, "left_wrist": img, "right_wrist": img}, np.zeros(14), np.ones(14))
    with pytest.warns(UserWarning, match="dropping 3 unfinished"):
        rec.start_episode()
    with pytest.raises(ValueError, match="no frames"):
        rec.finish("task")

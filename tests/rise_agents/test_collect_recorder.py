"""Recording semantics against the env/expert contract, with a tiny fake env: frame i = (obs before a_i, a_i)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rise_agents.collect import parse_args
from rise_agents.data_collection import CollectConfig, collect, record_episode
from rise_env.spec import CAMERA_KEYS


class CounterEnv:
    """Observation after n control steps: state[0] = n, every pixel = n; ends after ``limit`` steps."""

    def __init__(self, limit: int = 23, chunk: int = 5, hw: tuple[int, int] = (4, 6)):
        self.limit, self.chunk, self.hw, self.n = limit, chunk, hw, 0

    def _obs(self):
        obs = {c: np.full((*self.hw, 3), self.n, np.uint8) for c in CAMERA_KEYS}
        obs["state"] = np.full(14, self.n, np.float32)
        return obs

    def reset(self, seed=None):
        self.n = 0
        return self._obs(), {}

    def step(self, actions):
        frames, states, executed = [], [], []
        for a in actions:
            self.n += 1
            executed.append(a)
            o = self._obs()
            frames.append(np.stack([o[c] for c in CAMERA_KEYS]))
            states.append(o["state"])
            if self.n >= self.limit:
                break
        done = self.n >= self.limit
        info = {
            "frames": np.stack(frames),
            "frame_states": np.stack(states),
            "executed_actions": np.stack(executed),
            "score": 2.5,
            "success": True,
        }
        return self._obs(), 0.0, done, False, info


def counter_expert(env, mode, seed, label_offset=None):
    """Action k of a chunk is (start + k); with ``label_offset`` it executes that plus the offset and
    labels the plain value (a DART expert)."""
    def act(obs):
        start = float(obs["state"][0])
        acts = np.tile((start + np.arange(env.chunk))[:, None], (1, 14)).astype(np.float32)
        flags = np.arange(env.chunk) % 2 == 1
        if label_offset is None:
            return SimpleNamespace(actions=acts, intervention=flags)
        return SimpleNamespace(actions=acts + label_offset, intervention=flags, labels=acts)

    return SimpleNamespace(act=act)


def test_frames_pair_the_observation_before_each_action():
    ep = record_episode(CounterEnv(limit=23), counter_expert, "correction", seed=4, task="count")
    assert ep.length == 23  # the observation after the last action is not recorded
    np.testing.assert_array_equal(ep.states[:, 0], np.arange(23))
    np.testing.assert_array_equal(ep.actions[:, 0], np.arange(23))  # action i was chosen at observation i
    for cam in CAMERA_KEYS:
        np.testing.assert_array_equal(ep.images[cam][:, 0, 0, 0], np.arange(23))
        assert ep.images[cam].shape == (23, 4, 6, 3)
    np.testing.assert_array_equal(ep.intervention, np.arange(23) % 5 % 2 == 1)
    assert (ep.source, ep.success, ep.final_score, ep.extras) == ("correction", True, 2.5, {"seed": 4})


def test_bad_env_frame_rate_is_reported():
    class HalfRate(CounterEnv):
        def step(self, actions):
            obs, r, te, tr, info = super().step(actions)
            info["frames"] = info["frames"][::2]
            return obs, r, te, tr, info

    with pytest.raises(RuntimeError, match="info_frame_hz"):
        record_episode(HalfRate(), counter_expert, "demo", seed=0, task="count")


def test_cli_flags_are_validated(tmp_path, capsys):
    cfg = parse_args(["--out", str(tmp_path), "--demos", "2", "--workers", "3", "--time-limit-s", "1.5"])
    assert (cfg.demos, cfg.workers, cfg.time_limit_s, cfg.height, cfg.dart_noise_rad) == (2, 3, 1.5, 192, 0.0)
    assert parse_args(["--out", str(tmp_path), "--demos", "1", "--dart-noise-rad", "0.03"]).dart_noise_rad == 0.03
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path), "--demos", "1", "--dart-noise-rad", "-0.1"])
    assert "--dart-noise-rad" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path), "--task", "brick_sortin", "--demos", "1"])
    assert "did you mean 'brick_sorting'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path), "--demos", "-1"])
    assert "--demos" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path)])
    assert "nothing to collect" in capsys.readouterr().err


def test_dart_labels_are_recorded_instead_of_the_executed_actions():
    ep = record_episode(CounterEnv(limit=12), counter_expert, "demo", seed=1, task="count",
                        expert_kwargs={"label_offset": 0.5})
    np.testing.assert_array_equal(ep.actions[:, 0], np.arange(12))  # the labels, not the executed +0.5
    np.testing.assert_array_equal(ep.states[:, 0], np.arange(12))


def test_resume_refuses_staging_recorded_with_another_dart_noise(tmp_path):
    tiny = dict(out=tmp_path / "ds", demos=1, height=32, width=48, time_limit_s=1.0, num_bricks=1, progress=False)
    report = collect(CollectConfig(**tiny, dart_noise_rad=0.03, finalize=False))
    assert report.recorded_now == 1
    with pytest.raises(ValueError, match="--dart-noise-rad 0.03; this run uses 0.0"):
        collect(CollectConfig(**tiny))
    assert collect(CollectConfig(**tiny, dart_noise_rad=0.03)).resumed == 1

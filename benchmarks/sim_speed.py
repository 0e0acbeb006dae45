"""Speed of the MuJoCo twin and of the dataset I/O, measured side by side in one run.

Reports control steps/s of ``BrickSortingSimEnv`` without rendering, with 3-view rendering at
15 Hz (the world model's frame rate) and at 30 Hz (every control step, as recorded), the ms per
rendered 3-view frame, and LeRobotDataset v3.0 write (stage + finalize) and read (decode)
throughput in frames/s. Prints a table and writes ``benchmarks/results/sim_speed.json``.

    MUJOCO_GL=egl python benchmarks/sim_speed.py            # full run (~2 min)
    MUJOCO_GL=egl python benchmarks/sim_speed.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from rise_agents.envs.sim import BrickSortingSimEnv  # noqa: E402
from rise_env.data import DatasetConfig, Episode, LeRobotDatasetReader, LeRobotDatasetWriter  # noqa: E402
from rise_env.spec import agilex_cobot_magic  # noqa: E402
from rise_env.utils import write_result_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sim_speed.json"


def control_steps_per_s(chunks: int, height: int, width: int, **env_kwargs) -> dict:
    """Step the twin with hold-position chunks; returns steps/s and the episode it came from."""
    env = BrickSortingSimEnv(height=height, width=width, time_limit_s=1e6, **env_kwargs)
    obs, _ = env.reset(seed=0)
    chunk = np.tile(obs["state"], (env.chunk_size, 1))
    env.step(chunk)  # warm-up: renderer creation, caches
    start = time.perf_counter()
    for _ in range(chunks):
        env.step(chunk)
    elapsed = time.perf_counter() - start
    env.close()
    return {"steps_per_s": chunks * env.chunk_size / elapsed, "seconds": elapsed}


def ms_per_render(frames: int, height: int, width: int) -> float:
    """One 3-view render of the current scene (top, left wrist, right wrist), tiled."""
    env = BrickSortingSimEnv(height=height, width=width, render_mode="rgb_array")
    env.reset(seed=0)
    env.render()  # warm-up
    start = time.perf_counter()
    for _ in range(frames):
        env.render()
    elapsed = time.perf_counter() - start
    env.close()
    return 1000 * elapsed / frames


def record_episode(steps: int, height: int, width: int, seed: int) -> Episode:
    """A real twin episode at 30 Hz (hold-position actions) to feed the dataset benchmark."""
    env = BrickSortingSimEnv(height=height, width=width, chunk_size=steps, info_frame_hz=30, time_limit_s=1e6)
    obs, _ = env.reset(seed=seed)
    chunk = np.tile(obs["state"], (steps, 1))
    _, _, _, _, info = env.step(chunk)
    env.close()
    views = np.concatenate([np.stack([obs[k] for k in env.observation_space if k != "state"])[None],
                            info["frames"][:-1]])  # (T, V, h, w, 3): observation before each action
    cams = agilex_cobot_magic().camera_keys
    states = np.concatenate([obs["state"][None], info["frame_states"][:-1]])
    return Episode(task="sort the bricks", states=states, actions=chunk.astype(np.float32),
                   images={c: views[:, i] for i, c in enumerate(cams)}, source="demo", success=False)


def dataset_throughput(episodes: int, steps: int, height: int, width: int) -> dict:
    recorded = [record_episode(steps, height, width, seed) for seed in range(episodes)]
    frames = episodes * steps
    with tempfile.TemporaryDirectory() as tmp:
        cfg = DatasetConfig(robot=agilex_cobot_magic(height, width))
        start = time.perf_counter()
        writer = LeRobotDatasetWriter(Path(tmp) / "ds", cfg)
        for ep in recorded:
            writer.add_episode(ep)
        staged = time.perf_counter()
        writer.finalize()
        written = time.perf_counter()
        reader = LeRobotDatasetReader(Path(tmp) / "ds", cache_episodes=1)
        for ep in range(reader.num_episodes):
            reader.episode_frames(ep)
        read = time.perf_counter()
        assert reader.num_frames == frames, (reader.num_frames, frames)
    return {
        "frames": frames,
        "write_frames_per_s": frames / (written - start),
        "stage_frames_per_s": frames / (staged - start),
        "finalize_frames_per_s": frames / (written - staged),
        "read_frames_per_s": frames / (read - written),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--chunks", type=int, default=12, help="50-step chunks per stepping measurement")
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    chunks = 2 if args.quick else args.chunks
    h, w = args.height, args.width

    rows = {
        "no_render": control_steps_per_s(chunks, h, w, render_cameras=False),
        "render_15hz": control_steps_per_s(chunks, h, w, info_frame_hz=15),
        "render_30hz": control_steps_per_s(chunks, h, w, info_frame_hz=30),
    }
    render_ms = ms_per_render(20 if args.quick else 200, h, w)
    io = dataset_throughput(1 if args.quick else 4, 60 if args.quick else 300, h, w)

    print(f"\nTwin speed at {h}x{w}, 3 views ({os.cpu_count()} cores)")
    print(f"{'mode':<14}{'control steps/s':>18}{'x real time':>14}")
    for name, row in rows.items():
        print(f"{name:<14}{row['steps_per_s']:>18.1f}{row['steps_per_s'] / 30:>14.2f}")
    print(f"ms per 3-view frame: {render_ms:.2f}")
    print(f"dataset write: {io['write_frames_per_s']:.1f} frames/s (stage {io['stage_frames_per_s']:.1f}, "
          f"finalize {io['finalize_frames_per_s']:.1f}); read: {io['read_frames_per_s']:.1f} frames/s")
    write_result_json(args.out, {
        "resolution": [h, w],
        "views": 3,
        "control_steps_per_s": {k: v["steps_per_s"] for k, v in rows.items()},
        "realtime_factor_render_15hz": rows["render_15hz"]["steps_per_s"] / 30,
        "ms_per_3view_frame": render_ms,
        "dataset": io,
        "load_average_1min": os.getloadavg()[0],
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

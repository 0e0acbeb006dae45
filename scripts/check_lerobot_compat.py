#!/usr/bin/env python
"""Check that a dataset written by rise_env.data loads in LeRobot's own LeRobotDataset (v3.0).

Run it with a Python that has lerobot installed (it is not a project dependency), e.g.::

    python3 -m venv ../lerobot-venv
    ../lerobot-venv/bin/pip install torch==2.9.1 torchvision==0.24.1 lerobot==0.4.4
    ../lerobot-venv/bin/python scripts/check_lerobot_compat.py            # synthetic dataset
    ../lerobot-venv/bin/python scripts/check_lerobot_compat.py --path DIR # an existing dataset

Without ``--path`` it writes a small synthetic dataset with our writer first. It compares, for every
frame: episode/frame counts, task strings, state/action (exactly), timestamps and indices, the
decoded images (max/mean abs difference in 0-255 units, against our reader and, for synthetic
data, against the original frames), LeRobot's delta_timestamps windows against our dynamics
windows, and the stats LeRobot loads. Exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rise_env.data import (  # noqa: E402
    DatasetConfig,
    DynamicsWindowDataset,
    Episode,
    LeRobotDatasetReader,
    LeRobotDatasetWriter,
    WindowConfig,
)
from rise_env.spec import agilex_cobot_magic  # noqa: E402

TASKS = ("sort the bricks into the bins", "close the box")


def synthetic_episode(i: int, length: int, height: int, width: int, cameras: tuple[str, ...]) -> Episode:
    """Smooth moving scene (gradient background + a moving square) with random joint trajectories."""
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[0:height, 0:width]
    images = {}
    for k, cam in enumerate(cameras):
        frames = np.empty((length, height, width, 3), np.uint8)
        for t in range(length):
            f = np.stack([xx * 200 // width, yy * 200 // height, np.full_like(xx, 40 * k + 20 * i)], -1)
            y0, x0 = (7 * t + 13 * k) % (height - 16), (5 * t + 29 * i) % (width - 16)
            f[y0 : y0 + 16, x0 : x0 + 16] = (230, 60 + 50 * k, 40)
            frames[t] = f
        images[cam] = frames
    walk = np.cumsum(rng.normal(scale=0.02, size=(length, 14)), 0).astype(np.float32)
    return Episode(
        task=TASKS[i % len(TASKS)],
        states=walk,
        actions=np.roll(walk, -1, 0),
        images=images,
        intervention=rng.random(length) < 0.2,
        source=("demo", "rollout", "correction")[i % 3],
        success=i % 2 == 0,
        final_score=float(i),
    )


def write_synthetic(root: Path, episodes: int, length: int, height: int, width: int) -> list[Episode]:
    cfg = DatasetConfig(robot=agilex_cobot_magic(height, width))
    writer = LeRobotDatasetWriter(root, cfg)
    eps = [synthetic_episode(i, length + 7 * i, height, width, cfg.cameras) for i in range(episodes)]
    for ep in eps:
        writer.add_episode(ep)
    writer.finalize()
    return eps


def check(path: Path, originals: list[Episode] | None, backend: str) -> dict:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    problems: list[str] = []
    ours = LeRobotDatasetReader(path)
    t0 = time.perf_counter()
    lr = LeRobotDataset("local/rise_compat", root=path, video_backend=backend)
    res: dict = {"backend": backend, "load_s": round(time.perf_counter() - t0, 3)}
    res["episodes"] = [lr.num_episodes, ours.num_episodes]
    res["frames"] = [lr.num_frames, ours.num_frames]
    if lr.num_episodes != ours.num_episodes or lr.num_frames != ours.num_frames:
        problems.append(
            f"counts differ: lerobot {lr.num_episodes}/{lr.num_frames}, ours {res['episodes'][1]}/{res['frames'][1]}"
        )
    lr_tasks = [str(t) for t in lr.meta.tasks.sort_values("task_index").index]
    if lr_tasks != ours.tasks:
        problems.append(f"task table differs: {lr_tasks} vs {ours.tasks}")
    diffs_ours, diffs_orig = [], []
    t0 = time.perf_counter()
    for i in range(lr.num_frames):
        item = lr[i]
        e, f = int(item["episode_index"]), int(item["frame_index"])
        g = ours.episodes[e].from_index + f
        if int(item["index"]) != g or f != int(ours.frame_index[g]) or e != int(ours.episode_index[g]):
            problems.append(f"frame {i}: index/episode/frame mismatch")
        if abs(float(item["timestamp"]) - f / ours.fps) > 1e-6:
            problems.append(f"frame {i}: timestamp {float(item['timestamp'])} != {f / ours.fps}")
        if item["task"] != ours.episodes[e].task or int(item["task_index"]) != ours.episodes[e].task_index:
            problems.append(f"frame {i}: task {item['task']!r} != {ours.episodes[e].task!r}")
        for key, arr in (("observation.state", ours.states), ("action", ours.actions)):
            if not np.array_equal(item[key].numpy(), arr[g]):
                problems.append(f"frame {i}: {key} differs")
        if originals is not None and not np.array_equal(item["observation.state"].numpy(), originals[e].states[f]):
            problems.append(f"frame {i}: state differs from the written episode")
        if bool(item["intervention"]) != bool(ours.intervention[g]):
            problems.append(f"frame {i}: intervention flag differs")
        for cam, key in zip(ours.cameras, ours.video_keys, strict=True):
            img = (item[key].numpy().transpose(1, 2, 0) * 255).round().astype(np.int16)
            diffs_ours.append(np.abs(img - ours.camera_frames(e, cam)[f]))
            if originals is not None:
                diffs_orig.append(np.abs(img - originals[e].images[cam][f]))
    res["per_frame_s"] = round((time.perf_counter() - t0) / max(lr.num_frames, 1), 4)
    stack = np.stack(diffs_ours)
    res["image_absdiff_vs_our_reader"] = {"max": int(stack.max()), "mean": round(float(stack.mean()), 4)}
    if stack.max() > 1:
        problems.append(f"LeRobot's decoded frames differ from ours by up to {int(stack.max())}")
    if diffs_orig:
        o = np.stack(diffs_orig)
        mse = float((o.astype(np.float64) ** 2).mean())
        res["image_absdiff_vs_written"] = {
            "max": int(o.max()),
            "p99": float(np.percentile(o, 99)),
            "mean": round(float(o.mean()), 4),
            "psnr_db": round(10 * np.log10(255.0**2 / max(mse, 1e-12)), 2),
        }
    for key in ("observation.state", "action"):
        for st in ("mean", "std", "q01", "q99"):
            if not np.allclose(np.asarray(lr.meta.stats[key][st]), ours.stats[key][st]):
                problems.append(f"stats {key}/{st} differ")
    ep_cols = set(lr.meta.episodes.column_names)
    res["extra_episode_columns_visible"] = sorted({"source", "success", "final_score"} & ep_cols)

    # LeRobot delta_timestamps windows == our dynamics windows (15 Hz memory, 50-step chunk).
    fps, wcfg = ours.fps, WindowConfig()
    top = ours.video_keys[0]
    delta = {
        top: [-k * wcfg.memory_stride / fps for k in range(wcfg.memory_frames - 1, -1, -1)],
        "action": [k / fps for k in range(wcfg.chunk)],
    }
    lw = LeRobotDataset("local/rise_compat", root=path, video_backend=backend, delta_timestamps=delta)
    ours_w = DynamicsWindowDataset(ours, wcfg)
    win_diff, checked = 0, 0
    for i in np.linspace(0, lr.num_frames - 1, 12).round().astype(int):
        a, b = lw[int(i)], ours_w[int(i)]
        mem = (a[top].numpy().transpose(0, 2, 3, 1) * 255).round().astype(np.int16)
        win_diff = max(win_diff, int(np.abs(mem - b["memory_frames"][:, 0].numpy()).max()))
        if not np.array_equal(a["action"].numpy(), b["actions"].numpy()):
            problems.append(f"window {i}: action chunk differs from LeRobot's delta_timestamps chunk")
        if not np.array_equal(a["action_is_pad"].numpy(), b["action_is_pad"].numpy()):
            problems.append(f"window {i}: action padding differs")
        checked += 1
    res["windows_checked"] = checked
    res["window_memory_absdiff_max"] = win_diff
    if win_diff > 1:
        problems.append(f"memory frames differ from LeRobot's delta_timestamps frames by {win_diff}")
    res["problems"] = problems[:20]
    res["ok"] = not problems
    return res


def reverse_check(root: Path, episodes: int, length: int, height: int, width: int) -> dict:
    """Write a dataset with LeRobot's own writer (its default AV1 video) and read it with our reader."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    robot = agilex_cobot_magic(height, width)
    names = robot.joint_names
    features = {
        "observation.state": {"dtype": "float32", "shape": (14,), "names": names},
        "action": {"dtype": "float32", "shape": (14,), "names": names},
    }
    for cam in robot.camera_keys:
        features[f"observation.images.{cam}"] = {
            "dtype": "video",
            "shape": (height, width, 3),
            "names": ["height", "width", "channels"],
        }
    ds = LeRobotDataset.create("local/lerobot_written", fps=30, features=features, root=root, robot_type=robot.name)
    eps = [synthetic_episode(i, length + 7 * i, height, width, robot.camera_keys) for i in range(episodes)]
    for ep in eps:
        for t in range(ep.length):
            frame = {"observation.state": ep.states[t], "action": ep.actions[t], "task": ep.task}
            frame.update({f"observation.images.{c}": ep.images[c][t] for c in robot.camera_keys})
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()
    ours = LeRobotDatasetReader(root)
    problems, diffs = [], []
    if (ours.num_episodes, ours.num_frames) != (len(eps), sum(e.length for e in eps)):
        problems.append(f"counts: ours {ours.num_episodes}/{ours.num_frames}")
    for e, ep in enumerate(eps):
        sl = ours.episode_slice(e)
        if ours.episodes[e].task != ep.task:
            problems.append(f"episode {e}: task {ours.episodes[e].task!r} != {ep.task!r}")
        if not (np.array_equal(ours.states[sl], ep.states) and np.array_equal(ours.actions[sl], ep.actions)):
            problems.append(f"episode {e}: state/action differ")
        for cam, frames in ours.episode_frames(e).items():
            diffs.append(np.abs(frames.astype(np.int16) - ep.images[cam]).ravel())
    d = np.concatenate(diffs)
    codec = ours.features[f"observation.images.{robot.camera_keys[0]}"]["info"]["video.codec"]
    return {
        "direction": "written by lerobot, read by rise_env.data",
        "video_codec": codec,
        "episodes": ours.num_episodes,
        "frames": ours.num_frames,
        "image_absdiff_vs_written": {
            "max": int(d.max()),
            "p99": float(np.percentile(d, 99)),
            "mean": round(float(d.mean()), 4),
        },
        "problems": problems,
        "ok": not problems,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", type=Path, help="existing dataset to check (default: write a synthetic one)")
    ap.add_argument("--out", type=Path, help="where to write the synthetic dataset (default: a temp dir)")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--length", type=int, default=40, help="frames of the first episode (+7 per episode)")
    ap.add_argument("--height", type=int, default=192)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--backends", default="pyav,torchcodec", help="LeRobot video backends to try")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--reverse", action="store_true", help="also write with LeRobot and read with rise_env.data")
    args = ap.parse_args()

    import lerobot

    originals = None
    path = args.path
    if path is None:
        path = args.out or Path(tempfile.mkdtemp(prefix="rise_lerobot_compat_")) / "dataset"
        t0 = time.perf_counter()
        originals = write_synthetic(path, args.episodes, args.length, args.height, args.width)
        print(f"wrote synthetic dataset to {path} in {time.perf_counter() - t0:.1f}s")
    report = {"lerobot_version": lerobot.__version__, "path": str(path), "results": []}
    for backend in args.backends.split(","):
        try:
            res = check(path, originals, backend)
        except Exception as err:  # a backend that cannot run here (e.g. torchcodec without FFmpeg libs)
            res = {"backend": backend, "ok": False, "problems": [f"{type(err).__name__}: {err}"[:500]]}
        report["results"].append(res)
        print(json.dumps(res, indent=2))
    if args.reverse:
        rev_root = Path(tempfile.mkdtemp(prefix="rise_lerobot_reverse_")) / "dataset"
        try:
            res = reverse_check(rev_root, 3, args.length, 96, 128)
        except Exception as err:
            res = {
                "direction": "written by lerobot, read by rise_env.data",
                "ok": False,
                "problems": [f"{type(err).__name__}: {err}"[:500]],
            }
        report["reverse"] = res
        print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    ok = any(r["ok"] for r in report["results"]) and all(r["ok"] or r.get("frames") is None for r in report["results"])
    ok = ok and report.get("reverse", {"ok": True})["ok"]
    print("LeRobot compatibility:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

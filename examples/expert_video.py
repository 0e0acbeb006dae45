"""Run one scripted-expert episode of Dynamic Brick Sorting in the MuJoCo twin and save an mp4.

The video shows the top, left-wrist and right-wrist cameras side by side at 15 fps (the
frames the env returns in ``info["frames"]``), i.e. real time.

    MUJOCO_GL=egl python examples/expert_video.py --out outputs/expert_brick_sorting.mp4 --seed 0
    MUJOCO_GL=egl python examples/expert_video.py --out /tmp/rollout.mp4 --mode rollout --seed 3
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from rise_agents.envs.sim import MODES, BrickSortingSimEnv, make_expert  # noqa: E402
from rise_env.spec import CAMERA_KEYS  # noqa: E402
from rise_env.utils.video import write_video  # noqa: E402

FPS = 15


def tile(views: np.ndarray) -> np.ndarray:
    """(3, h, w, 3) -> (h, 3w + 2 * 2, 3) with thin white separators."""
    sep = np.full((views.shape[1], 2, 3), 255, np.uint8)
    parts = []
    for i, view in enumerate(views):
        parts += [view] if i == 0 else [sep, view]
    return np.concatenate(parts, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="mp4 file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=MODES, default="demo", help="expert mode (demo = clean)")
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=256)
    args = parser.parse_args()

    start = time.perf_counter()
    env = BrickSortingSimEnv(height=args.height, width=args.width, info_frame_hz=FPS)
    obs, _ = env.reset(seed=args.seed)
    expert = make_expert(env, mode=args.mode, seed=args.seed)
    frames = [tile(np.stack([obs[k] for k in CAMERA_KEYS]))]
    events = []
    while True:
        chunk = expert.act(obs)
        obs, _, terminated, truncated, info = env.step(chunk.actions)
        frames += [tile(views) for views in info["frames"]]
        events += [e for e in info["events"] if e["type"] != "spawn"]
        if terminated or truncated:
            break
    for _ in range(FPS):  # hold the last frame for a second
        frames.append(frames[-1])
    env.close()

    write_video(args.out, frames, fps=FPS)
    for e in events:
        print(f"  t={e['step'] / 30:5.1f}s  {e['type']:<9} brick {e['brick']} ({e['colour']})")
    print(
        f"{args.mode} seed {args.seed}: success={info['success']} score={info['score']:.1f} "
        f"sim {env.sim_time:.1f}s, {len(frames)} frames -> {args.out} ({time.perf_counter() - start:.1f}s wall)"
    )


if __name__ == "__main__":
    main()

"""Imagine chunks of Dynamic Brick Sorting with the world model and save an mp4 with the value curve beneath.

The three views are tiled side by side; the strip below plots the value model's score of every
frame (the real start frame, then the imagined ones). Actions replay the recorded chunk that followed
the initial state in the dataset when the bank stores it, otherwise a slow sinusoid around the start
joints (``--policy``).

    python examples/imagine_brick_sorting.py --out outputs/imagined.mp4                # bundled default
    python examples/imagine_brick_sorting.py --world-model WM_DIR --initial-states BANK_DIR \\
        --out outputs/imagined.mp4 --chunks 2 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from rise_env.assets import AssetNotAvailableError


def chunk_actions(policy: str, bank, start: int, chunk: int, horizon: int, low, high) -> np.ndarray:
    """Action chunk (H, 14) number ``chunk`` from start point ``start``."""
    recorded = bank.actions
    if policy in ("auto", "replay") and recorded is not None and recorded.shape[1] >= (chunk + 1) * horizon:
        return recorded[start, chunk * horizon : (chunk + 1) * horizon]
    if policy == "replay":
        have = 0 if recorded is None else recorded.shape[1]
        raise SystemExit(f"--policy replay needs {(chunk + 1) * horizon} recorded actions per start point; "
                         f"the bank stores {have}")
    base = bank.state[start]
    if policy == "hold":
        return np.repeat(base[None], horizon, axis=0)
    t = (chunk * horizon + np.arange(horizon))[:, None] / 30.0  # seconds at 30 Hz
    wave = 0.15 * (high - low) * np.sin(2 * np.pi * 0.25 * t + np.arange(14))
    return np.clip(base + wave, low, high).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--world-model", help="CompositionalWorldModel folder (default: the bundled one)")
    p.add_argument("--initial-states", help="InitialStateBank folder (default: the bundled one)")
    p.add_argument("--out", default="outputs/imagined.mp4", help="mp4 to write")
    p.add_argument("--chunks", type=int, default=2, help="imagined chunks (chained)")
    p.add_argument("--seed", type=int, default=0, help="seed of the start point and of the imagination noise")
    p.add_argument("--initial-state-index", type=int, help="start point in the bank (default: drawn by seed)")
    p.add_argument("--policy", choices=["auto", "replay", "hold", "sinusoid"], default="auto",
                   help="auto: replay recorded actions when the bank stores them, else sinusoid")
    p.add_argument("--sample-steps", type=int, help="Euler steps per chunk (default: the world model's)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = p.parse_args(argv)

    import torch

    from rise_env.envs.factory import make_brick_sorting_env
    from rise_env.envs.recording import ImaginationVideoWriter

    if args.threads:
        torch.set_num_threads(args.threads)
    extra = {} if args.sample_steps is None else {"sample_steps": args.sample_steps}
    try:
        env = make_brick_sorting_env(args.world_model, args.initial_states, max_chunks=args.chunks, clip_actions=True,
                                     render_mode="rgb_array", **extra)
    except AssetNotAvailableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    vec = env.unwrapped._vec
    bank, horizon = vec.initial_states, vec.horizon
    low, high = vec.robot.action_limits()
    options = None if args.initial_state_index is None else {"initial_state_index": args.initial_state_index}
    obs, info = env.reset(seed=args.seed, options=options)
    start = int(info["initial_state_index"])
    start_frame = np.stack([obs[k] for k in vec.robot.camera_keys])  # (V, H, W, 3)
    writer = ImaginationVideoWriter(args.out)
    t0 = time.perf_counter()
    for c in range(args.chunks):
        action = chunk_actions(args.policy, bank, start, c, horizon, low, high)
        obs, reward, terminated, truncated, info = env.step(action)
        if c == 0:
            writer.add_start(start_frame, info["value_t0"])
        writer.add_chunk(info["frames"], info["values"])
        print(f"chunk {c}: advantage {reward:+.3f} (bin {info['advantage_bin']}), "
              f"values {info['value_t0'] if c == 0 else ''} -> {np.round(info['values'], 3).tolist()}")
        if terminated or truncated:
            break
    path = writer.close()
    env.close()
    print(f"wrote {path} ({time.perf_counter() - t0:.1f} s imagining, start point {start})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

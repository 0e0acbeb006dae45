"""Advantage sanity on held-out recorded data: do expert chunks score higher than failed-rollout chunks?

Values every 2nd frame (15 Hz) of each held-out episode with a trained value model, then the
Eq. 2 advantage of every 50-step chunk from the recorded later frames (as RECAP labels data).
Reports the mean advantage per episode group and the demo − failed-rollout gap; writes
``benchmarks/results/advantage_gap_brick_sorting.json``.

    python benchmarks/advantage_gap.py --data data/brick_sorting --value runs/value_brick_sorting_cpu/model \
        --episodes-from benchmarks/results/value_brick_sorting.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from rise_env.data import LeRobotDatasetReader
from rise_env.models.value import ValueModel
from rise_env.utils import write_result_json
from rise_env.world_model.labels import chunk_starts, recorded_chunk_advantages

RESULTS = Path(__file__).resolve().parent / "results" / "advantage_gap_brick_sorting.json"


def episode_values(model: ValueModel, reader: LeRobotDatasetReader, ep: int, stride: int) -> np.ndarray:
    """V of every ``stride``-th frame of episode ``ep``: (T,) with NaN in between."""
    frames = reader.episode_frames(ep)
    views = np.stack([frames[c] for c in reader.cameras], axis=1)  # (T, V, H, W, 3)
    meta = reader.episodes[ep]
    out = np.full(len(views), np.nan)
    idx = np.arange(0, len(views), stride)
    out[idx] = model.values(views[idx], meta.task)
    return out


def group_of(meta) -> str:
    return meta.source if meta.source != "rollout" else f"rollout_{'success' if meta.success else 'failure'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="LeRobotDataset v3.0 folder")
    parser.add_argument("--value", required=True, help="ValueModel folder (save_pretrained)")
    parser.add_argument("--episodes-from", help="result JSON with 'episode_indices' (e.g. the value evaluation)")
    parser.add_argument("--episodes", help="comma-separated episode indices (overrides --episodes-from)")
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--stride", type=int, default=2, help="frame spacing of the imagined frames (30 Hz → 15 Hz)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    reader = LeRobotDatasetReader(args.data, cache_episodes=1)
    if args.episodes:
        episodes = [int(e) for e in args.episodes.split(",")]
    elif args.episodes_from:
        episodes = json.loads(Path(args.episodes_from).read_text())["episode_indices"]
    else:
        episodes = list(range(reader.num_episodes))
    model = ValueModel.from_pretrained(args.value).eval()

    groups: dict[str, list[float]] = {}
    for ep in episodes:
        meta = reader.episodes[ep]
        values = episode_values(model, reader, ep, args.stride)
        starts = chunk_starts(len(values), args.chunk, every=args.chunk)
        adv = recorded_chunk_advantages(values, starts, args.chunk, args.stride)
        groups.setdefault(group_of(meta), []).extend(adv.tolist())
        print(f"episode {ep:4d} {group_of(meta):<18} chunks {len(adv):3d} mean advantage {adv.mean():+.3f}")

    summary = {g: {"chunks": len(a), "mean_advantage": float(np.mean(a))} for g, a in sorted(groups.items())}
    demo = summary.get("demo", {}).get("mean_advantage", float("nan"))
    fail = summary.get("rollout_failure", {}).get("mean_advantage", float("nan"))
    print(f"\n{'group':<20}{'chunks':>8}{'mean A':>10}")
    for g, row in summary.items():
        print(f"{g:<20}{row['chunks']:>8}{row['mean_advantage']:>+10.3f}")
    print(f"gap demo − failed rollout: {demo - fail:+.3f}")
    write_result_json(args.out, {
        "task": "brick_sorting", "data": args.data, "value_model": args.value, "episodes": episodes,
        "chunk": args.chunk, "stride": args.stride, "advantage_source": "recorded frames (Eq. 2)",
        "groups": summary, "gap_demo_minus_failed_rollout": demo - fail,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

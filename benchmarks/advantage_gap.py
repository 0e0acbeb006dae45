"""Advantage sanity on held-out recorded data: do expert chunks score higher than failed-rollout chunks?

Values every 2nd frame (15 Hz) of each held-out episode with a trained value model (as RECAP's labeller
does: ``rise_agents.algos.labels.episode_values``), then the
Eq. 2 advantage of every 50-step chunk from the recorded later frames (as RECAP labels data).
Reports the mean advantage per episode group and the demo − failed-rollout gap; writes
``benchmarks/results/advantage_gap_brick_sorting.json``.

    python benchmarks/advantage_gap.py --data data/brick_sorting --value runs/value_brick_sorting_cpu/model \
        --episodes-from benchmarks/results/value_brick_sorting.json

With ``--world-model DIR`` the later frames are *imagined* instead: the world model starts from the
recorded memory frames before each chunk, imagines the chunk under the recorded actions, and its
value model scores the imagined frames (what the RL loop's reward sees); written to
``advantage_gap_imagined_brick_sorting.json`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from rise_agents.algos.labels import episode_values
from rise_env.data import LeRobotDatasetReader
from rise_env.data.frames import resize_frames
from rise_env.models.value import ValueModel
from rise_env.utils import write_result_json
from rise_env.world_model.labels import chunk_starts, recorded_chunk_advantages

RESULTS = Path(__file__).resolve().parent / "results" / "advantage_gap_brick_sorting.json"
RESULTS_IMAGINED = RESULTS.with_name("advantage_gap_imagined_brick_sorting.json")


def imagined_advantages(wm, reader: LeRobotDatasetReader, ep: int, starts: np.ndarray, chunk: int,
                        batch: int = 8, seed: int = 0) -> np.ndarray:
    """Eq. 2 advantages of the recorded chunks at ``starts`` with world-model-imagined later frames."""
    from rise_env.data.windows import WindowConfig, window_indices

    meta, cfg = reader.episodes[ep], WindowConfig(memory_frames=wm.num_memory_frames, chunk=chunk)
    rows = reader.episode_slice(ep)
    states, actions = reader.states[rows], reader.actions[rows]
    order = [reader.cameras.index(c) for c in wm.robot.camera_keys]
    cam = wm.robot.cameras[0]  # the world model's resolution (the cpu preset imagines at 96x128)
    out = []
    for i in range(0, len(starts), batch):
        part = starts[i : i + batch]
        windows = [window_indices(int(t), meta.length, cfg) for t in part]
        memory = np.stack([reader.frames_at(ep, w["memory"])[:, order] for w in windows])
        memory = resize_frames(memory, cam.height, cam.width)
        acts = np.stack([actions[w["actions"]] for w in windows])
        imagined = wm.imagine_chunk(memory, states[part], acts, np.full(len(part), meta.task_index),
                                    np.arange(len(part)) + seed + i)
        out.append(imagined.advantage)
    return np.concatenate(out) if out else np.zeros(0)


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
    parser.add_argument("--world-model", help="CompositionalWorldModel folder: imagine the later frames")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or (RESULTS_IMAGINED if args.world_model else RESULTS)
    torch.set_num_threads(args.threads)

    reader = LeRobotDatasetReader(args.data, cache_episodes=1)
    if args.episodes:
        episodes = [int(e) for e in args.episodes.split(",")]
    elif args.episodes_from:
        episodes = json.loads(Path(args.episodes_from).read_text())["episode_indices"]
    else:
        episodes = list(range(reader.num_episodes))
    model = ValueModel.from_pretrained(args.value).eval()
    wm = None
    if args.world_model:
        from rise_env.world_model.compositional import CompositionalWorldModel

        wm = CompositionalWorldModel.from_pretrained(args.world_model)
        wm.value = model  # the value model under test scores the imagined frames

    groups: dict[str, list[float]] = {}
    for ep in episodes:
        meta = reader.episodes[ep]
        if wm is None:
            values = episode_values(model, reader, ep, args.stride)
            starts = chunk_starts(len(values), args.chunk, every=args.chunk)
            adv = recorded_chunk_advantages(values, starts, args.chunk, args.stride)
        else:
            starts = chunk_starts(meta.length, args.chunk, every=args.chunk)
            adv = imagined_advantages(wm, reader, ep, starts, args.chunk)
        groups.setdefault(group_of(meta), []).extend(adv.tolist())
        print(f"episode {ep:4d} {group_of(meta):<18} chunks {len(adv):3d} mean advantage {adv.mean():+.3f}")

    summary = {g: {"chunks": len(a), "mean_advantage": float(np.mean(a))} for g, a in sorted(groups.items())}
    demo = summary.get("demo", {}).get("mean_advantage", float("nan"))
    fail = summary.get("rollout_failure", {}).get("mean_advantage", float("nan"))
    print(f"\n{'group':<20}{'chunks':>8}{'mean A':>10}")
    for g, row in summary.items():
        print(f"{g:<20}{row['chunks']:>8}{row['mean_advantage']:>+10.3f}")
    print(f"gap demo − failed rollout: {demo - fail:+.3f}")
    source = "imagined frames (world model, Eq. 2)" if wm is not None else "recorded frames (Eq. 2)"
    write_result_json(out, {
        "task": "brick_sorting", "data": args.data, "data_fingerprint": reader.fingerprint,
        "value_model": args.value, "world_model": args.world_model,
        "episodes": episodes, "chunk": args.chunk, "stride": args.stride, "advantage_source": source,
        "groups": summary, "gap_demo_minus_failed_rollout": demo - fail,
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

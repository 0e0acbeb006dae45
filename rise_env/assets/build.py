"""Build a bundled asset folder: world model + initial-state bank + manifest.

    python -m rise_env.assets.build --task brick_sorting --world-model WM_DIR --data DATASET \\
        --out rise_env/assets/brick_sorting [--num-states 64 --seed 0 --fp16 --metrics results/*.json]

``--policy`` adds a warm-up policy (``save_pretrained`` folder; its EMA weights become the bundled
weights) as ``policy/``, the starting point of ``python -m rise_agents.train --algo recap-online``.
``--sources demo`` draws start points from demonstrations only (the loop then uses their recorded
actions as top-bin offline samples). ``--compress`` stores the memory frames LZMA-compressed.

``--world-model`` is a `CompositionalWorldModel` folder; alternatively ``--dynamics DIR --value DIR``
assemble one (task names from the dataset). Start points: ``M`` memory frames spaced by the world
model's frame stride (2 = 15 Hz from 30 Hz data) ending at frame ``t``, the joint state at ``t``, the
task, and the next ``--actions-horizon`` recorded actions. Everything is written to a temporary
sibling and renamed onto ``--out`` once the manifest is written.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rise_env.assets import INITIAL_STATES_DIR, POLICY_DIR, WORLD_MODEL_DIR, write_manifest
from rise_env.assets.manifest import TASKS
from rise_env.data.frames import resize_frames
from rise_env.envs.initial_states import InitialStateBank
from rise_env.utils.atomic import atomic_directory
from rise_env.utils.safetensors_header import save_sorted

WEIGHTS = "model.safetensors"


def start_points(lengths: list[int], episodes: list[int], num_states: int, first: int, seed: int) -> np.ndarray:
    """(N, 2) int64 (episode, frame t) start points, drawn without replacement, deterministic by ``seed``.

    Frames with ``t >= first`` (full memory) are preferred; episodes shorter than that fall back to any frame.
    """
    cands = []
    for ep in episodes:
        lo = first if lengths[ep] > first else 0
        cands += [(ep, t) for t in range(lo, lengths[ep])]
    if not cands:
        raise ValueError("the selected episodes hold no frames")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(cands), size=min(num_states, len(cands)), replace=False))
    return np.asarray(cands, np.int64)[pick]


def build_initial_states(
    reader: Any,
    camera_keys: list[str],
    size: tuple[int, int],
    num_states: int,
    memory_frames: int = 4,
    frame_stride: int = 2,
    actions_horizon: int = 100,
    episodes: list[int] | None = None,
    seed: int = 0,
) -> InitialStateBank:
    """An `InitialStateBank` of ``num_states`` start points from a `LeRobotDatasetReader`.

    memory (S, M, V, h, w, 3): frames t − stride·(M−1) … t (clipped at 0, as in the dynamics windows);
    state (S, 14) at t; actions (S, actions_horizon, 14): recorded actions t … (last one repeated past the end).
    """
    missing = [c for c in camera_keys if c not in reader.cameras]
    if missing:
        raise ValueError(f"dataset {reader.root} has cameras {reader.cameras}; the world model needs {missing}")
    order = [reader.cameras.index(c) for c in camera_keys]
    episodes = list(range(reader.num_episodes)) if episodes is None else list(episodes)
    bad = [e for e in episodes if not 0 <= e < reader.num_episodes]
    if bad:
        raise ValueError(f"episodes {bad} are not in 0..{reader.num_episodes - 1} of {reader.root}")
    lengths = [m.length for m in reader.episodes]
    points = start_points(lengths, episodes, num_states, frame_stride * (memory_frames - 1), seed)
    offsets = frame_stride * np.arange(memory_frames - 1, -1, -1)
    memory, state, actions, tasks = [], [], [], []
    for ep, t in points:
        meta = reader.episodes[int(ep)]
        frames = reader.frames_at(int(ep), np.clip(t - offsets, 0, None))[:, order]  # (M, V, H, W, 3)
        memory.append(resize_frames(frames, *size))
        rows = reader.episode_slice(int(ep))
        state.append(reader.states[rows][t])
        acts = reader.actions[rows]
        actions.append(acts[np.minimum(t + np.arange(actions_horizon), len(acts) - 1)])
        tasks.append(meta.task_index)
    if min(tasks) < 0:
        raise ValueError(f"dataset {reader.root} has episodes whose task is not in meta/tasks")
    return InitialStateBank(
        memory=np.ascontiguousarray(np.stack(memory)),
        state=np.stack(state).astype(np.float32),
        task_index=np.asarray(tasks, np.int64),
        task_names=list(reader.tasks),
        camera_keys=list(camera_keys),
        actions=np.stack(actions).astype(np.float32),
        episode_index=points[:, 0],
        frame_index=points[:, 1],
    )


def convert_weights_fp16(folder: Path) -> dict[str, int]:
    """Rewrite every ``model.safetensors`` under ``folder`` with float32 tensors stored as float16.

    Refuses (ValueError) a tensor with values beyond float16's range. Returns bytes before / after.
    """
    import torch
    from safetensors import safe_open

    before = after = 0
    for path in sorted(folder.rglob(WEIGHTS)):
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata()
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        for k, v in tensors.items():
            if v.dtype == torch.float32:
                if v.numel() and v.abs().max().item() > torch.finfo(torch.float16).max:
                    raise ValueError(f"{path}: tensor {k} exceeds the float16 range; build without --fp16")
                tensors[k] = v.to(torch.float16)
        before += path.stat().st_size
        tmp = path.with_name(f".{path.name}.fp16")
        save_sorted(tensors, tmp, metadata=metadata)  # a rebuild gives the same bytes: the manifest's sha256 checks it
        tmp.replace(path)
        after += path.stat().st_size
    return {"bytes_fp32": before, "bytes_fp16": after}


def bundle_policy(source: Path, target: Path, fp16: bool = False) -> None:
    """Copy a policy folder with its EMA weights as the model weights (one set, optionally float16)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*", "ema.safetensors", WEIGHTS))
    ema = source / "ema.safetensors"
    shutil.copyfile(ema if ema.is_file() else source / WEIGHTS, target / WEIGHTS)
    if fp16:
        convert_weights_fp16(target)


def compare_world_models(reference: Any, candidate: Any, bank: InitialStateBank, seed: int = 0) -> dict[str, float]:
    """Imagine the same chunk (first start point, its recorded actions) with both models; max abs differences."""
    h = reference.chunk_size
    acts = bank.actions[:1, :h] if bank.actions is not None and bank.actions.shape[1] >= h else None
    if acts is None:
        acts = np.repeat(bank.state[:1, None], h, axis=1)
    args = (bank.memory[:1], bank.state[:1], acts, bank.task_index[:1], np.array([seed]))
    a, b = reference.imagine_chunk(*args), candidate.imagine_chunk(*args)
    return {
        "max_abs_frame_diff": float(np.abs(a.frames.astype(np.int16) - b.frames.astype(np.int16)).max()),
        "mean_abs_frame_diff": float(np.abs(a.frames.astype(np.float32) - b.frames.astype(np.float32)).mean()),
        "max_abs_value_diff": float(np.abs(a.values - b.values).max()),
        "max_abs_advantage_diff": float(np.abs(a.advantage - b.advantage).max()),
    }


def select_episodes(spec: str, num_episodes: int, val_fraction: float, split_seed: int) -> list[int] | None:
    """``all`` → None; ``held-out`` → the value model's seeded validation episodes; ``3,7`` → [3, 7]."""
    if spec == "all":
        return None
    if spec == "held-out":
        from rise_env.models.value import split_episodes

        held_out = split_episodes(num_episodes, val_fraction, split_seed)[1]
        if not held_out:
            raise ValueError(f"--episodes held-out: no episode is held out of {num_episodes} at {val_fraction}")
        return held_out
    from rise_env.data.split import parse_episode_list

    return parse_episode_list(spec, num_episodes, keywords=("all", "held-out"))


def read_metrics(paths: list[str], pairs: list[str]) -> dict[str, Any]:
    """Metrics from result JSON files (keyed by file stem) and ``key=value`` pairs (numbers parsed)."""
    metrics: dict[str, Any] = {}
    for p in paths:
        try:
            metrics[Path(p).stem] = json.loads(Path(p).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"--metrics {p}: cannot read a JSON result file ({err})") from None
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--metric {pair!r}: expected KEY=VALUE")
        try:
            metrics[key] = json.loads(value)
        except json.JSONDecodeError:
            metrics[key] = value
    return metrics


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m rise_env.assets.build", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=TASKS, help="task of the assets")
    p.add_argument("--world-model", help="CompositionalWorldModel folder (world_model.json, dynamics/, value/)")
    p.add_argument("--dynamics", help="DynamicsModel folder (with --value, instead of --world-model)")
    p.add_argument("--value", help="ValueModel folder (with --dynamics)")
    p.add_argument("--sample-steps", type=int, default=10, help="Euler steps when assembling from --dynamics/--value")
    p.add_argument("--action-guidance", type=float, default=None,
                   help="action guidance weight when assembling from --dynamics/--value (default: the model's)")
    p.add_argument("--action-guidance-interval", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                   help="flow times (LO, HI] whose steps are guided, 1 = noise (default: the model's, every step)")
    p.add_argument("--data", required=True, help="LeRobotDataset v3.0 folder the initial states are drawn from")
    p.add_argument("--out", required=True, help="asset folder to write (replaced atomically with --overwrite)")
    p.add_argument("--num-states", type=int, default=64, help="start points in the bank")
    p.add_argument("--policy", help="warm-up policy folder (save_pretrained) bundled as policy/")
    p.add_argument("--sources", nargs="*", default=None, help="episode sources start points come from (default all)")
    p.add_argument("--compress", action="store_true", help="store the bank's memory frames LZMA-compressed")
    p.add_argument("--episodes", default="all",
                   help="'all', 'held-out' (the value model's split: --val-fraction, --split-seed), or indices '3,7'")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out fraction (value training's default)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the held-out split (value training's seed)")
    p.add_argument("--actions-horizon", type=int, default=100, help="recorded actions stored per start point")
    p.add_argument("--seed", type=int, default=0, help="seed of the start-point draw")
    p.add_argument("--fp16", action="store_true", help="store float32 weights as float16 (checked after loading)")
    p.add_argument("--metrics", nargs="*", default=[], help="result JSON files copied into the manifest")
    p.add_argument("--metric", nargs="*", default=[], help="extra KEY=VALUE metrics")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    args = p.parse_args(argv)
    if bool(args.world_model) == bool(args.dynamics or args.value) or bool(args.dynamics) != bool(args.value):
        p.error("pass either --world-model DIR, or both --dynamics DIR and --value DIR")
    if args.world_model and (args.action_guidance is not None or args.action_guidance_interval is not None):
        p.error(
            "--action-guidance(-interval) applies when assembling from --dynamics/--value; --world-model keeps its own"
        )
    if args.num_states < 1 or args.actions_horizon < 1:
        p.error("--num-states and --actions-horizon must be >= 1")
    return args


def main(argv: list[str] | None = None) -> Path:
    import torch

    from rise_env.data import LeRobotDatasetReader
    from rise_env.envs.factory import load_world_model
    from rise_env.utils.provenance import run_metadata

    args = parse_args(argv)
    meta = run_metadata(None if argv is None else ["python", "-m", "rise_env.assets.build", *argv])
    torch.manual_seed(args.seed)
    reader = LeRobotDatasetReader(args.data)
    out = Path(args.out)
    with atomic_directory(out, overwrite=args.overwrite) as tmp:
        wm_dir = tmp / WORLD_MODEL_DIR
        if args.world_model:
            shutil.copytree(args.world_model, wm_dir, ignore=shutil.ignore_patterns(".*"))
            wm = load_world_model(wm_dir)
        else:
            from rise_env.models.dynamics import DynamicsModel
            from rise_env.models.value import ValueModel
            from rise_env.world_model.compositional import CompositionalWorldModel, WorldModelConfig

            config = WorldModelConfig(
                task_names=list(reader.tasks),
                sample_steps=args.sample_steps,
                action_guidance=args.action_guidance,
                action_guidance_interval=args.action_guidance_interval,
            )
            dyn, val = DynamicsModel.from_pretrained(args.dynamics), ValueModel.from_pretrained(args.value)
            CompositionalWorldModel(dyn, val, config).save_pretrained(wm_dir)
            wm = load_world_model(wm_dir)
        unknown = sorted(set(reader.tasks) - set(wm.task_names))
        if unknown:
            raise ValueError(f"dataset tasks {unknown} are not among the world model's task_names {wm.task_names}")
        cam = wm.robot.cameras[0]
        frame_stride = int(getattr(wm.dynamics.config, "action_stride", 2))
        episodes = select_episodes(args.episodes, reader.num_episodes, args.val_fraction, args.split_seed)
        if args.sources:
            pool = range(reader.num_episodes) if episodes is None else episodes
            episodes = [e for e in pool if reader.episodes[e].source in args.sources]
            if not episodes:
                raise ValueError(f"no selected episode has a source in {args.sources}")
        bank = build_initial_states(
            reader, list(wm.robot.camera_keys), (cam.height, cam.width), args.num_states,
            memory_frames=wm.num_memory_frames, frame_stride=frame_stride, actions_horizon=args.actions_horizon,
            episodes=episodes, seed=args.seed,
        )
        bank.save(tmp / INITIAL_STATES_DIR, compress=args.compress)
        data: dict[str, Any] = {
            "dataset": args.data, "data_fingerprint": reader.fingerprint, "sources": args.sources,
            "dataset_fps": reader.fps, "tasks": list(reader.tasks),
            "episodes": sorted({int(e) for e in bank.episode_index}), "num_states": len(bank),
            "frame_stride": frame_stride, "memory_frames": wm.num_memory_frames,
            "actions_horizon": args.actions_horizon,
            "resolution": [cam.height, cam.width], "seed": args.seed, "git_commit": meta["git_commit"],
            "world_model_source": args.world_model or {"dynamics": args.dynamics, "value": args.value},
            "weights_dtype": "float16" if args.fp16 else "float32",
        }
        if args.fp16:
            data["fp16"] = convert_weights_fp16(wm_dir)
            reloaded = load_world_model(wm_dir)
            data["fp16"]["check_vs_float32"] = compare_world_models(wm, reloaded, bank, seed=args.seed)
        data["bytes"] = {"world_model": _size(wm_dir), "initial_states": _size(tmp / INITIAL_STATES_DIR)}
        if args.policy:
            data["policy_source"] = args.policy
            bundle_policy(Path(args.policy), tmp / POLICY_DIR, fp16=args.fp16)
            data["bytes"]["policy"] = _size(tmp / POLICY_DIR)
        write_manifest(tmp, meta["command"], data=data, metrics=read_metrics(args.metrics, args.metric))
    print(f"wrote {out}: {len(bank)} initial states, world model {data['bytes']['world_model'] / 1e6:.2f} MB, "
          f"initial states {data['bytes']['initial_states'] / 1e6:.2f} MB" + (f", fp16 check {data['fp16']}"
                                                                              if args.fp16 else ""))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])

"""Open-loop action error of a policy on recorded episodes (held-out demos): where imitation goes wrong.

For sampled frames t, the policy's chunk for the recorded observation is compared with the recorded
actions t..t+H−1, in joint units (rad; m for grippers). The "hold" baseline repeats the current
state: a policy whose first action is further from the recorded one than the state itself cannot
track its own pose, whatever it sees. Twin trials measure closed-loop success; this measures the
imitation error that compounds into it, per dimension and along the chunk.

Example::

    python -m rise_agents.evaluation.open_loop --policy runs/bc_brick_sorting \\
        --data data/brick_sorting_heldout --samples 512 --out runs/bc_open_loop.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from rise_agents.algos.data import ChunkDataset
from rise_agents.evaluation.predictors import resolve_policy_dir
from rise_agents.policies import AdvantageConditionedPolicy
from rise_agents.policies.advantage_policy import joint_delta_mask
from rise_env.data import LeRobotDatasetReader
from rise_env.utils import write_result_json


def open_loop_errors(
    policy: AdvantageConditionedPolicy,
    dataset: ChunkDataset,
    samples: int = 512,
    execute_steps: int = 25,
    advantage_bin: int = 10,
    batch_size: int = 32,
    seed: int = 0,
) -> dict:
    """Mean absolute errors (joint units) of the policy's chunks against the recorded actions.

    Returns ``per_dim`` (14,) over the first ``execute_steps`` actions, ``first_action`` (14,) and
    ``hold_first_action`` (14,) (the current state as the first action), ``along_chunk`` (H,) averaged
    over the arm joints, and ``arm_mean`` / ``hold_arm_mean`` scalars. Padded steps are left out.
    """
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(len(dataset), min(samples, len(dataset)), replace=False))
    generator = torch.Generator().manual_seed(seed)
    err, hold, valid = [], [], []
    for i in range(0, len(ids), batch_size):
        batch = dataset.batch(ids[i : i + batch_size])
        with torch.no_grad():
            chunk = policy.sample_actions(batch, advantage_bin, generator=generator, use_ema=policy.ema is not None)
        target = np.asarray(batch["actions"], dtype=np.float64)
        err.append(np.abs(chunk.actions.double().cpu().numpy() - target))
        hold.append(np.abs(np.asarray(batch["state"], dtype=np.float64) - target[:, 0]))
        valid.append(~np.asarray(batch["action_is_pad"]))
    err, hold, valid = np.concatenate(err), np.concatenate(hold), np.concatenate(valid)
    arm = np.flatnonzero(joint_delta_mask(policy.robot))  # the arm joints (grippers excluded)
    k = min(execute_steps, err.shape[1])
    w = valid[:, :k, None].astype(np.float64)
    per_dim = (err[:, :k] * w).sum(axis=(0, 1)) / w.sum(axis=(0, 1))
    along = (err[..., arm] * valid[..., None]).sum(axis=(0, 2)) / (valid.sum(axis=0) * len(arm)).clip(min=1)
    return {
        "samples": int(len(ids)),
        "execute_steps": int(k),
        "per_dim": per_dim,
        "first_action": err[:, 0].mean(axis=0),
        "hold_first_action": hold.mean(axis=0),
        "along_chunk": along,
        "arm_mean": float(per_dim[arm].mean()),
        "first_action_arm_mean": float(err[:, 0][:, arm].mean()),
        "hold_arm_mean": float(hold[:, arm].mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rise_agents.evaluation.open_loop", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--policy", required=True, help="training run or policy folder")
    parser.add_argument("--data", required=True, help="LeRobotDataset v3.0 with the episodes to compare against")
    parser.add_argument("--samples", type=int, default=512, help="frames sampled (uniformly, without replacement)")
    parser.add_argument("--execute-steps", type=int, default=25, help="chunk prefix the per-dim error averages")
    parser.add_argument("--advantage-bin", type=int, default=10, help="prompted advantage bin")
    parser.add_argument("--seed", type=int, default=0, help="frame choice and flow noise")
    parser.add_argument("--frame-cache", default=None, help="resized-frame cache folder (default DATA/.frame_cache)")
    parser.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", default=None, help="write the result JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.num_threads)
    policy = AdvantageConditionedPolicy.from_pretrained(resolve_policy_dir(args.policy)).eval()
    vla = policy.config.vla
    reader = LeRobotDatasetReader(args.data)
    cache = Path(args.frame_cache) if args.frame_cache else reader.root / ".frame_cache"
    dataset = ChunkDataset(reader, vla.camera_names, vla.vision.image_size, vla.action_horizon, cache,
                           sources=sorted({m.source for m in reader.episodes}))
    result = open_loop_errors(policy, dataset, args.samples, args.execute_steps, args.advantage_bin, seed=args.seed)
    names = policy.robot.joint_names
    print(f"{'dim':>14} {'first':>8} {'hold':>8} {'mean@' + str(result['execute_steps']):>8}")
    for i, name in enumerate(names):
        print(f"{name:>14} {result['first_action'][i]:8.4f} {result['hold_first_action'][i]:8.4f} "
              f"{result['per_dim'][i]:8.4f}")
    print(f"arm joints: first action {result['first_action_arm_mean']:.4f} vs hold {result['hold_arm_mean']:.4f}; "
          f"mean over {result['execute_steps']} steps {result['arm_mean']:.4f}")
    if args.out:
        command = ["python", "-m", "rise_agents.evaluation.open_loop", *(sys.argv[1:] if argv is None else argv)]
        write_result_json(args.out, {"policy": str(args.policy), "data": str(args.data), "dims": names, **result},
                          argv=command)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

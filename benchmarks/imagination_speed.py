"""Imagination speed of the dynamics model: ms per imagined chunk, FLOPs, achieved vs peak FLOP/s.

One chunk = 3 views x 25 frames at the preset's resolution (cpu: 96x128) from 4 memory frames,
``--steps`` Euler steps (10 online).
Times are split into memory encoding, denoising and VAE decoding; the fp32 matmul peak is measured in
the same run, so the ratio holds on any machine. Random weights (speed does not depend on them).

    python benchmarks/imagination_speed.py                      # cpu preset, batch 1 and 16, on CPU
    python benchmarks/imagination_speed.py --device cuda --preset cpu
    python benchmarks/imagination_speed.py --guidance 1 3      # plain and action-guided sampling side by side
    python benchmarks/imagination_speed.py --guidance 1 3 --guidance-interval 0.7 1   # also guide 3 steps of 10

Action guidance w != 1 evaluates the transformer on the actions and on the null action in one batched
call per guided Euler step; its rows are keyed ``"<batch>@w<w>"`` (``"1@w3"``), plain rows ``"<batch>"``.
``--guidance-interval LO HI`` adds, beside them, rows guided only on the steps at flow times in (LO, HI],
keyed ``"<batch>@w<w>(LO,HI]"`` (``"1@w3(0.7,1]"``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from rise_env.models.dynamics import DynamicsModel
from rise_env.models.dynamics.checkpoint import write_json
from rise_env.models.dynamics.config import PRESETS
from rise_env.models.dynamics.sampler import check_guidance_interval
from rise_env.utils.provenance import cpuinfo_field

TARGET_MS = 800.0  # imagined chunk incl. VAE decode at batch 1 on a 2-core CPU


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _sdpa_cpu_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def count_flops(fn) -> int:
    """FLOPs of ``fn()`` (the CPU flash-attention kernel is counted like the CUDA ones)."""
    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flops}
    with FlopCounterMode(display=False, custom_mapping=mapping) as fc:
        fn()
    return int(fc.get_total_flops())


def matmul_peak_gflops(device: torch.device, n: int, repeats: int = 10) -> float:
    """Best fp32 ``n x n`` matmul throughput (GFLOP/s)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def machine(device: torch.device) -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__}
    cpu = cpuinfo_field("model name") or platform.processor()
    info.update(cpu=cpu, cores=os.cpu_count(), torch_threads=torch.get_num_threads())
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


EVERY_STEP = (0.0, 1.0)  # the guidance interval that guides every Euler step


def guidance_key(guidance: float, interval: tuple[float, float] = EVERY_STEP) -> str:
    """How a chunk is sampled: ``"1"`` plain, ``"3"`` guided on every step, ``"3(0.7,1]"`` on an interval."""
    if guidance == 1.0 or interval == EVERY_STEP:
        return f"{guidance:g}"
    return f"{guidance:g}({interval[0]:g},{interval[1]:g}]"


def row_key(batch: int, guidance: float, interval: tuple[float, float] = EVERY_STEP) -> str:
    """Result key of one measurement: ``"16"`` plain, ``"16@w3"`` guided, ``"16@w3(0.7,1]"`` on an interval."""
    return str(batch) if guidance == 1.0 else f"{batch}@w{guidance_key(guidance, interval)}"


def time_chunk(
    model: DynamicsModel,
    batch: int,
    steps: int,
    repeats: int,
    device: torch.device,
    guidance: float = 1.0,
    guidance_interval: tuple[float, float] = EVERY_STEP,
) -> dict:
    """Median ms per call of encode / denoise / decode for one batch of chunks."""
    cfg = model.config
    g = torch.Generator().manual_seed(0)
    hist = torch.randint(0, 256, (batch, cfg.memory_frames, cfg.views, cfg.height, cfg.width, 3), generator=g)
    hist = hist.to(torch.uint8).to(device)
    low, high = model.action_low.cpu(), model.action_high.cpu()
    acts = (low + (high - low) * torch.rand(batch, cfg.action_horizon, cfg.action_dim, generator=g)).to(device)
    state = acts[:, 0].clone()
    seeds = list(range(batch))
    parts: dict[str, list[float]] = {"encode": [], "denoise": [], "decode": [], "total": []}
    for i in range(repeats + 1):  # first run warms up
        _sync(device)
        t0 = time.perf_counter()
        mem = model.encode_memory(hist)
        _sync(device)
        t1 = time.perf_counter()
        lat = model.imagine_latents(
            mem, state, acts, steps=steps, seeds=seeds, guidance=guidance, guidance_interval=guidance_interval
        )
        _sync(device)
        t2 = time.perf_counter()
        frames = model.codec.decode_frames(lat)
        _sync(device)
        t3 = time.perf_counter()
        assert frames.shape == (batch, cfg.future_frames, cfg.views, cfg.height, cfg.width, 3)
        if i:
            for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                parts[k].append(v * 1e3)
    return {k: round(statistics.median(v), 2) for k, v in parts.items()}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="dynamics preset")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1 ...")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    p.add_argument("--steps", type=int, default=10, help="Euler steps per chunk")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per batch size (median)")
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0],
                   help="action guidance weights, each timed at every batch size (w != 1: null-action branch)")
    p.add_argument("--guidance-interval", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                   help="also time each guided row with only the steps at flow times (LO, HI] guided, 1 = noise")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--peak-size", type=int, default=None, help="matmul size of the peak (default 2048 CPU, 8192 GPU)")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/imagination_speed_<device>.json)")
    args = p.parse_args(argv)
    if any(w <= 0 for w in args.guidance):
        p.error(f"--guidance weights must be > 0; got {args.guidance}")
    interval = args.guidance_interval
    if interval is not None:
        try:
            interval = check_guidance_interval(interval)
        except ValueError as e:
            p.error(f"--guidance-interval: {e}")
    guided = any(w != 1.0 for w in args.guidance)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    overrides = {"null_action": True} if guided else {}
    model = DynamicsModel.from_preset(args.preset, **overrides).to(device).eval().requires_grad_(False)
    cfg = model.config
    load_before = os.getloadavg()
    peak = matmul_peak_gflops(device, args.peak_size or (2048 if device.type == "cpu" else 8192))

    # FLOPs of one chunk (batch 1), by stage
    hist = torch.zeros(1, cfg.memory_frames, cfg.views, cfg.height, cfg.width, 3, dtype=torch.uint8, device=device)
    acts = model.action_low.expand(1, cfg.action_horizon, cfg.action_dim).clone()
    mem = model.encode_memory(hist)
    lat = model.imagine_latents(mem, acts[:, 0], acts, steps=1, seeds=[0])
    flops = {
        "encode": count_flops(lambda: model.encode_memory(hist)),
        "denoise": count_flops(lambda: model.imagine_latents(mem, acts[:, 0], acts, steps=args.steps, seeds=[0])),
        "decode": count_flops(lambda: model.codec.decode_frames(lat)),
    }
    flops["total"] = sum(flops.values())
    samplings = [(w, EVERY_STEP) for w in args.guidance]  # (weight, interval)
    if interval not in (None, EVERY_STEP):
        samplings += [(w, interval) for w in args.guidance if w != 1.0]
    denoise_flops = {  # plain sampling is counted above; guided sampling adds the null-action branch
        guidance_key(w, iv): flops["denoise"] if w == 1.0 else count_flops(
            lambda w=w, iv=iv: model.imagine_latents(
                mem, acts[:, 0], acts, steps=args.steps, seeds=[0], guidance=w, guidance_interval=iv
            )
        )
        for w, iv in samplings
    }

    results = {}
    for w, iv in samplings:
        total_flops = flops["encode"] + denoise_flops[guidance_key(w, iv)] + flops["decode"]
        for bs in args.batch_sizes:
            r = time_chunk(model, bs, args.steps, args.repeats, device, guidance=w, guidance_interval=iv)
            r["per_chunk_total"] = round(r["total"] / bs, 2)
            r["achieved_gflops"] = round(total_flops * bs / (r["total"] / 1e3) / 1e9, 2)
            results[row_key(bs, w, iv)] = r
    load_after = os.getloadavg()

    n = model.num_parameters()
    print(
        f"\nimagination speed: preset {args.preset}, {device}, {args.steps} steps, "
        f"{cfg.views} views x {cfg.future_frames} frames at {cfg.height}x{cfg.width}"
        + ("" if interval is None else "; (LO,HI] rows guide only the steps at those flow times")
    )
    print(
        f"params: transformer {n['transformer'] / 1e6:.2f}M, vae {n['vae'] / 1e6:.2f}M; "
        f"GFLOP per chunk: encode {flops['encode'] / 1e9:.2f}, denoise {flops['denoise'] / 1e9:.2f}, "
        f"decode {flops['decode'] / 1e9:.2f}, total {flops['total'] / 1e9:.2f}"
    )
    print(f"fp32 matmul peak {peak:.1f} GFLOP/s; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(
        f"{'batch':>12} | {'encode ms':>9} | {'denoise ms':>10} | {'decode ms':>9} | {'total ms':>9} | "
        f"{'ms/chunk':>8} | {'GFLOP/s':>7} | {'% peak':>6}"
    )
    for bs, r in results.items():
        print(
            f"{bs:>12} | {r['encode']:>9.1f} | {r['denoise']:>10.1f} | {r['decode']:>9.1f} | {r['total']:>9.1f} | "
            f"{r['per_chunk_total']:>8.1f} | {r['achieved_gflops']:>7.1f} | {100 * r['achieved_gflops'] / peak:>5.1f}%"
        )
    batch1 = {row_key(1, w, iv): results[row_key(1, w, iv)]["total"] for w, iv in samplings if 1 in args.batch_sizes}
    for key, ms in batch1.items():
        verdict = "meets" if ms <= TARGET_MS else "misses"
        print(f"batch {key} chunk incl. VAE decode: {ms:.0f} ms ({verdict} the {TARGET_MS:.0f} ms target)")

    report = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "git_commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(device),
        "device": str(device),
        "preset": args.preset,
        "steps": args.steps,
        "guidance": args.guidance,
        "guidance_interval": None if interval is None else list(interval),
        "chunk": {
            "views": cfg.views,
            "frames": cfg.future_frames,
            "height": cfg.height,
            "width": cfg.width,
            "memory_frames": cfg.memory_frames,
        },
        "params": n,
        "ms_per_chunk": {bs: r["per_chunk_total"] for bs, r in results.items()},
        "ms_per_call": results,
        "flops_per_chunk": flops["total"],
        "flops_per_chunk_by_stage": flops,
        "denoise_flops_by_guidance": denoise_flops,
        "achieved_gflops": {bs: r["achieved_gflops"] for bs, r in results.items()},
        "peak_gflops": round(peak, 2),
        "target_ms_batch1": TARGET_MS,
        "meets_target": {key: ms <= TARGET_MS for key, ms in batch1.items()} or None,
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
        "note": "ms_per_call = one imagine() of the whole batch (encode memory + denoise + decode); "
        "ms_per_chunk = ms_per_call / batch; keys '<batch>' plain, '<batch>@w<w>' with action guidance w "
        "on every step, '<batch>@w<w>(lo,hi]' on the steps at flow times in (lo, hi]; "
        "flops_per_chunk(_by_stage) are for plain sampling. The CPU is shared, see load_average.",
    }
    out = Path(args.out or f"benchmarks/results/imagination_speed_{device.type}.json")
    write_json(out, report)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()

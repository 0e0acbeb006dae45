"""The imagination-speed benchmark runs end to end (tiny preset) and writes the documented keys."""

import json

import pytest
import torch


def test_benchmark_writes_result_json(tmp_path, load_script):
    bench = load_script("benchmarks/imagination_speed.py")
    threads = torch.get_num_threads()
    out = tmp_path / "speed.json"
    try:
        bench.main(
            [
                "--preset",
                "tiny",
                "--batch-sizes",
                "1",
                "2",
                "--repeats",
                "1",
                "--threads",
                "1",
                "--guidance",
                "1",
                "3",
                "--peak-size",
                "256",
                "--out",
                str(out),
            ]
        )
    finally:
        torch.set_num_threads(threads)
    res = json.loads(out.read_text())
    for key in (
        "command",
        "git_commit",
        "date",
        "machine",
        "ms_per_chunk",
        "flops_per_chunk",
        "achieved_gflops",
        "peak_gflops",
        "device",
    ):
        assert key in res, key
    assert set(res["ms_per_chunk"]) == {"1", "2", "1@w3", "2@w3"}
    assert res["flops_per_chunk"] > 0 and res["peak_gflops"] > 0
    stages = res["flops_per_chunk_by_stage"]
    assert stages["total"] == stages["encode"] + stages["denoise"] + stages["decode"]
    # guidance evaluates the transformer on the actions and on the null action: twice the denoise FLOPs
    guided = res["denoise_flops_by_guidance"]
    assert guided["1"] == stages["denoise"] and abs(guided["3"] / guided["1"] - 2) < 0.05
    assert set(res["meets_target"]) == {"1", "1@w3"}


def test_benchmark_times_a_guidance_interval(tmp_path, load_script):
    """Guiding the noisier half of 4 steps doubles the transformer's rows on 2 of them: 1.5x the FLOPs,
    timed beside guidance on every step."""
    bench = load_script("benchmarks/imagination_speed.py")
    threads = torch.get_num_threads()
    out = tmp_path / "speed.json"
    argv = ["--preset", "tiny", "--batch-sizes", "1", "--repeats", "1", "--threads", "1", "--steps", "4"]
    argv += ["--peak-size", "64", "--out", str(out)]
    try:
        bench.main(argv + ["--guidance", "1", "3", "--guidance-interval", "0.5", "1"])
    finally:
        torch.set_num_threads(threads)
    res = json.loads(out.read_text())
    assert res["guidance_interval"] == [0.5, 1.0]
    assert set(res["ms_per_chunk"]) == {"1", "1@w3", "1@w3(0.5,1]"}  # side by side in one run
    guided = res["denoise_flops_by_guidance"]
    assert abs(guided["3"] / guided["1"] - 2) < 0.05 and abs(guided["3(0.5,1]"] / guided["1"] - 1.5) < 0.05
    with pytest.raises(SystemExit):
        bench.main(argv + ["--guidance", "3", "--guidance-interval", "0.5", "0.2"])

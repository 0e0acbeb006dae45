"""Decoder tuning: the motion loss, decoder-only training and the decoder phase of the dynamics run."""

import json

import pytest
import torch
from safetensors.torch import load_file

from rise_env.models.dynamics.config import TINY_VAE
from rise_env.models.dynamics.vae import AutoencoderTrainer, build_vae, frames_to_video, motion_l1
from rise_env.train import main


def _video(t: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 3, t, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_motion_loss_charges_flicker_and_missing_motion_but_not_a_steady_offset():
    video = _video()
    assert motion_l1(video, video).item() == 0.0
    assert motion_l1(video + 0.3, video).item() == pytest.approx(0.0, abs=1e-6)  # same error in every frame
    still = video[:, :, :1].expand_as(video)  # the first frame held: all motion missing
    assert motion_l1(still, video).item() == pytest.approx(video.diff(dim=2).abs().mean().item())
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0]).view(1, 1, 5, 1, 1)
    assert motion_l1(video + 0.1 * sign, video).item() == pytest.approx(0.2, rel=1e-5)  # flicker of ±0.1
    assert motion_l1(video[:, :, :1], video[:, :, :1]).item() == 0.0  # one frame: no motion to compare


def test_decoder_only_training_changes_the_decoder_and_leaves_the_latents_alone():
    torch.manual_seed(0)
    vae = build_vae(TINY_VAE)
    frames = torch.randint(0, 256, (2, 5, 1, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    encoder = {k: v.clone() for k, v in vae.encoder.state_dict().items()}
    decoder = {k: v.clone() for k, v in vae.decoder.state_dict().items()}
    with torch.no_grad():
        latents = vae.encode(frames_to_video(frames)).latent_dist.mode()
    trainer = AutoencoderTrainer(vae, lr=1e-3, motion_weight=1.0, decoder_only=True)
    losses = [trainer.step(frames)["loss"] for _ in range(20)]
    assert losses[-1] < losses[0]
    assert all(torch.equal(v, vae.encoder.state_dict()[k]) for k, v in encoder.items())
    assert any(not torch.equal(v, vae.decoder.state_dict()[k]) for k, v in decoder.items())
    with torch.no_grad():
        assert torch.equal(vae.encode(frames_to_video(frames)).latent_dist.mode(), latents)
    assert [p for g in trainer.optimizer.param_groups for p in g["params"]] == list(vae.decoder.parameters())


def _argv(data, out, *extra):
    base = ["dynamics", "--data", str(data), "--out", str(out), "--preset", "tiny", "--batch-size", "2"]
    base += ["--val-fraction", "0.34", "--no-progress", "--threads", "1"]
    return base + list(extra)


def _rows(run):
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def test_decoder_phase_changes_only_the_decoder_of_init_from(tiny_dynamics_dataset, tmp_path, one_thread):
    pre, tuned = tmp_path / "pre", tmp_path / "tuned"
    assert main(_argv(tiny_dynamics_dataset, pre, "--steps", "2", "--vae-steps", "2")) == 0
    extra = ("--init-from", str(pre), "--decoder-steps", "3", "--steps", "0", "--motion-weight", "1")
    assert main(_argv(tiny_dynamics_dataset, tuned, *extra)) == 0
    before = load_file(str(pre / "model" / "model.safetensors"))
    after = load_file(str(tuned / "model" / "model.safetensors"))
    assert before.keys() == after.keys()
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed and all(k.startswith("codec.vae.decoder.") for k in changed)
    assert [(r["phase"], r["step"]) for r in _rows(tuned)] == [("decoder", 0), ("decoder", 1), ("decoder", 2)]
    assert (tuned / "decoder" / "model.safetensors").is_file() and not list((tuned / "checkpoints").glob("decoder_*"))


def test_interrupted_decoder_phase_resumes_bit_exactly(tiny_dynamics_dataset, tmp_path, monkeypatch, one_thread):
    pre = tmp_path / "pre"
    assert main(_argv(tiny_dynamics_dataset, pre, "--steps", "1", "--vae-steps", "2")) == 0
    extra = ("--init-from", str(pre), "--decoder-steps", "4", "--steps", "2", "--checkpoint-every", "2")
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main(_argv(tiny_dynamics_dataset, full, *extra)) == 0
    real, calls = AutoencoderTrainer.step, []

    def step(self, frames, generator=None, lr=None):
        calls.append(1)
        if len(calls) > 3:  # stop in the decoder phase after its checkpoint at step 2
            raise KeyboardInterrupt
        return real(self, frames, generator, lr)

    with monkeypatch.context() as m:
        m.setattr(AutoencoderTrainer, "step", step)
        with pytest.raises(KeyboardInterrupt):
            main(_argv(tiny_dynamics_dataset, cut, *extra))
    assert sorted(p.name for p in (cut / "checkpoints").iterdir()) == ["decoder_00000002"]
    assert main(_argv(tiny_dynamics_dataset, cut, *extra)) == 0
    assert [(r["phase"], r["step"], r["loss"]) for r in _rows(cut)] == [
        (r["phase"], r["step"], r["loss"]) for r in _rows(full)
    ]
    a, b = load_file(str(full / "model" / "model.safetensors")), load_file(str(cut / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)

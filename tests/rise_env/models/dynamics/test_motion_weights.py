"""Motion-weighted flow-matching loss: weights of mean 1 that favour the latents that change."""

import json

import pytest
import torch

from rise_env.models.dynamics import DynamicsModel
from rise_env.models.dynamics.synthetic import moving_squares
from rise_env.models.dynamics.training import DynamicsTrainer
from rise_env.models.dynamics.transformer import motion_weights, velocity_loss
from rise_env.train import main
from rise_env.utils.atomic import read_json


def _moving_blob(batch: int = 2) -> torch.Tensor:
    """Latents (B, V=2, C=3, F=5, 4, 4): still background, one latent that changes over time in view 0."""
    future = (
        torch.randn(batch, 2, 3, 1, 4, 4, generator=torch.Generator().manual_seed(1))
        .expand(-1, -1, -1, 5, -1, -1)
        .clone()
    )
    future[:, 0, :, :, 1, 2] += torch.linspace(-2, 2, 5)
    return future


def test_weights_have_mean_one_and_favour_what_moves():
    w = motion_weights(_moving_blob(), strength=4.0)
    assert w.shape == (2, 2, 1, 1, 4, 4)  # one weight per place, the same in every latent frame
    torch.testing.assert_close(w.mean(dim=(1, 2, 3, 4, 5)), torch.ones(2))
    moving, still = w[:, 0, 0, 0, 1, 2], w[:, 1, 0, 0, 1, 2]
    assert (moving > 1).all() and (still < 1).all()
    # 1 of 32 places moves: it carries (1 + 4 * 32) / 5 of the weight, the others 1 / 5 each
    torch.testing.assert_close(moving, torch.full((2,), 129 / 5), rtol=5e-3, atol=0)
    torch.testing.assert_close(still, torch.full((2,), 1 / 5), rtol=5e-3, atol=0)


def test_still_chunks_and_strength_zero_give_plain_mse():
    still = torch.randn(1, 1, 3, 1, 4, 4, generator=torch.Generator().manual_seed(0)).expand(-1, -1, -1, 5, -1, -1)
    # the chunk mean's rounding noise is not mistaken for motion
    torch.testing.assert_close(motion_weights(still, 4.0), torch.ones(1, 1, 1, 1, 4, 4), rtol=0, atol=1e-2)
    torch.testing.assert_close(motion_weights(_moving_blob(), 0.0), torch.ones(2, 2, 1, 1, 4, 4))
    pred, target, mask = torch.randn(2, 2, 3, 5, 4, 4), torch.randn(2, 2, 3, 5, 4, 4), torch.ones(2, 5)
    torch.testing.assert_close(
        velocity_loss(pred, target, mask, motion_weights(_moving_blob(), 0.0)), velocity_loss(pred, target, mask)
    )
    with pytest.raises(ValueError, match="strength must be >= 0"):
        motion_weights(still, -1.0)


def test_weighted_loss_charges_errors_on_moving_latents_more():
    future = _moving_blob()
    w = motion_weights(future, 4.0)
    mask = torch.ones(2, 5)
    target = torch.zeros_like(future)
    on_mover, on_still = torch.zeros_like(future), torch.zeros_like(future)
    on_mover[:, 0, :, :, 1, 2] = 1.0
    on_still[:, 1, :, :, 1, 2] = 1.0
    # unweighted the two errors cost the same; weighted, the one on the moving latent costs more
    torch.testing.assert_close(velocity_loss(on_mover, target, mask), velocity_loss(on_still, target, mask))
    assert (velocity_loss(on_mover, target, mask, w) > 3 * velocity_loss(on_still, target, mask, w)).all()


def test_trainer_passes_the_weight_to_the_loss_and_refuses_a_negative_one():
    torch.manual_seed(0)
    model = DynamicsModel.from_preset("tiny", views=1, action_low=[-1.0] * 14, action_high=[1.0] * 14)
    batch = model.encode_batch(moving_squares(model.config, 4, seed=0))
    plain = model.loss(batch, torch.Generator().manual_seed(3))
    weighted = model.loss(batch, torch.Generator().manual_seed(3), latent_motion_weight=4.0)
    assert not torch.allclose(plain, weighted)
    trainer = DynamicsTrainer(model, latent_motion_weight=4.0, seed=3)
    stats = trainer.step(batch)
    torch.testing.assert_close(torch.tensor(stats["loss"]), weighted.mean().detach(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="latent_motion_weight must be >= 0"):
        DynamicsTrainer(model, latent_motion_weight=-0.5)


def _argv(data, out, *extra):
    base = ["dynamics", "--data", str(data), "--out", str(out), "--preset", "tiny", "--batch-size", "2"]
    base += ["--val-fraction", "0.34", "--no-progress", "--threads", "1", "--steps", "2", "--vae-steps", "0"]
    return base + list(extra)


def _first_loss(run):
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    return next(r["loss"] for r in rows if r["phase"] == "dynamics")


def test_cli_trains_with_the_weight_records_it_and_refuses_to_resume_with_another(tiny_dynamics_dataset, tmp_path):
    plain, weighted = tmp_path / "plain", tmp_path / "weighted"
    assert main(_argv(tiny_dynamics_dataset, plain)) == 0
    assert main(_argv(tiny_dynamics_dataset, weighted, "--latent-motion-weight", "4")) == 0
    assert read_json(weighted / "run.json")["config"]["latent_motion_weight"] == 4.0
    assert read_json(plain / "run.json")["config"]["latent_motion_weight"] == 0.0
    assert _first_loss(weighted) != pytest.approx(_first_loss(plain))  # same init, batch and noise
    assert main(_argv(tiny_dynamics_dataset, weighted, "--latent-motion-weight", "2", "--steps", "3")) == 2

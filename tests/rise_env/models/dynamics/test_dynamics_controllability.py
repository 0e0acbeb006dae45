"""A real controllability check: a tiny model trained on moving squares follows the action.

The VAE stays at its random initialisation (a fixed, translation-equivariant feature map; training
it is too slow for CI), so the check is done where the model works: the imagined latents under the
true action must be closer to the real future than the latents imagined under the opposite action.
"""

import pytest
import torch

from rise_env.metrics import controllability_score
from rise_env.models.dynamics import DynamicsModel
from rise_env.models.dynamics.synthetic import moving_squares
from rise_env.models.dynamics.training import train_dynamics


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast and does not collapse when the CPU is shared."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_trained_toy_moves_the_square_where_the_action_says():
    torch.manual_seed(0)
    model = DynamicsModel.from_preset("tiny", views=1, memory_frames=2, action_low=[-1.0] * 14, action_high=[1.0] * 14)
    cfg = model.config
    model.codec.fit_stats(moving_squares(cfg, 32, seed=123)["future_frames"])
    data = [model.encode_batch(moving_squares(cfg, 8, seed=100 + i)) for i in range(32)]
    losses = train_dynamics(model, data, steps=250, lr=3e-3)
    assert sum(losses[-20:]) < 0.5 * sum(losses[:20])
    model.eval()
    n = 8
    start = torch.full((n, 2), 12.0)
    for d in ([1.0, 0.0], [0.0, 1.0]):
        v = torch.tensor([d] * n)
        fwd = model.encode_batch(moving_squares(cfg, n, velocity=v, start=start))
        back = model.encode_batch(moving_squares(cfg, n, velocity=-v, start=start))
        seeds = list(range(n))
        im_true = model.imagine_latents(fwd["memory_latents"], fwd["state"], fwd["actions"], steps=10, seeds=seeds)
        im_swap = model.imagine_latents(fwd["memory_latents"], fwd["state"], back["actions"], steps=10, seeds=seeds)
        score = controllability_score(im_true, im_swap, fwd["future_latents"])
        assert score["ratio"] < 0.8, (d, score)

"""Sampler: exact on straight paths, per-sample seeds, memory latents never touched."""

import pytest
import torch

from rise_env.models.dynamics import DynamicsModel, EulerFlowSampler, logit_normal_t, per_sample_noise
from rise_env.models.dynamics.sampler import check_guidance_interval, guidance_at


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast and does not collapse when the CPU is shared."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_euler_is_exact_on_a_straight_flow():
    x0 = torch.randn(3, 4)
    out = EulerFlowSampler(steps=7).sample(lambda x, t: (x - x0) / t.view(-1, 1), torch.randn(3, 4))
    torch.testing.assert_close(out, x0)


def test_per_sample_noise_does_not_depend_on_the_batch():
    a = per_sample_noise((3, 2, 5), seeds=[7, 8, 9])
    b = per_sample_noise((1, 2, 5), seeds=[8])
    assert torch.equal(a[1], b[0]) and not torch.equal(a[0], a[1])
    with pytest.raises(ValueError, match="2 seeds for a batch of 3"):
        per_sample_noise((3, 2), seeds=[1, 2])


@pytest.mark.parametrize(
    "steps, interval, guided",
    [
        (10, (0.0, 1.0), 10),  # every step
        (10, (0.5, 1.0), 5),  # t = 1.0 ... 0.6: the step starting at 0.5 on the float32 grid is not guided
        (50, (0.5, 1.0), 25),
        (10, (0.0, 0.5), 5),
        (3, (0.0, 0.2), 0),  # times 1, 2/3, 1/3: none inside
    ],
)
def test_a_guidance_interval_guides_the_steps_whose_time_lies_inside(steps, interval, guided):
    times = EulerFlowSampler(steps).times()[:-1]  # the times the velocity is evaluated at
    weights = [guidance_at(float(t), 3.0, interval) for t in times]
    assert weights.count(3.0) == guided and weights.count(1.0) == steps - guided


@pytest.mark.parametrize("interval", [(0.5, 0.5), (0.7, 0.2), (-0.1, 1.0), (0.0, 1.5), (0.5,), (0.1, 0.2, 0.3)])
def test_a_bad_guidance_interval_is_refused(interval):
    with pytest.raises(ValueError, match="guidance interval"):
        check_guidance_interval(interval)


def test_logit_normal_times_have_the_paper_median():
    t = logit_normal_t(20000, 0.2, 1.0, torch.Generator().manual_seed(0))
    assert 0 < t.min() and t.max() < 1
    assert abs(float(t.median()) - float(torch.sigmoid(torch.tensor(0.2)))) < 0.01


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return DynamicsModel.from_preset("tiny").eval()


def _inputs(b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    hist = torch.randint(0, 256, (b, 4, 3, 32, 32, 3), generator=g, dtype=torch.uint8)
    return hist, torch.zeros(b, 14), torch.rand(b, 10, 14, generator=g) * 0.5


def test_memory_tokens_stay_clean_at_t0_through_sampling(tiny):
    hist, state, acts = _inputs()
    memory = tiny.encode_memory(hist)
    seen = []
    forward = tiny.transformer.forward

    def spy(latents, timesteps, *args, **kwargs):
        seen.append((latents[:, :, :, :4].clone(), timesteps.clone()))
        return forward(latents, timesteps, *args, **kwargs)

    tiny.transformer.forward = spy
    try:
        tiny.imagine_latents(memory, state, acts, steps=3, seeds=[1, 2])
    finally:
        del tiny.transformer.forward
    assert len(seen) == 3
    for mem, ts in seen:
        assert torch.equal(mem, memory)
        assert torch.all(ts[:, :4] == 0) and torch.all(ts[:, 4:] > 0)
    assert [float(ts[0, -1]) for _, ts in seen] == pytest.approx([1.0, 2 / 3, 1 / 3])


def test_seeds_reproduce_and_differ(tiny):
    hist, state, acts = _inputs()
    a = tiny.imagine(hist, state, acts, steps=2, seeds=[5, 6])
    b = tiny.imagine(hist, state, acts, steps=2, seeds=[5, 6])
    c = tiny.imagine(hist, state, acts, steps=2, seeds=[5, 7])
    assert a.shape == (2, 5, 3, 32, 32, 3) and a.dtype == torch.uint8
    assert torch.equal(a, b)
    assert torch.equal(a[0], c[0]) and not torch.equal(a[1], c[1])
    single = tiny.imagine(hist[1:], state[1:], acts[1:], steps=2, seeds=[6])
    assert (single[0].int() - a[1].int()).abs().max() <= 1  # same seed alone or in a batch


def test_bad_inputs_are_refused_with_the_expected_shape(tiny):
    hist, state, acts = _inputs()
    with pytest.raises(ValueError, match=r"history_frames must be \(B, 4, 3, 32, 32, 3\)"):
        tiny.imagine(hist[:, :3], state, acts)
    with pytest.raises(ValueError, match="uint8"):
        tiny.imagine(hist.float(), state, acts)
    with pytest.raises(ValueError, match=r"action_chunk must be \(B, 10, 14\)"):
        tiny.imagine(hist, state, acts[:, :5])
    with pytest.raises(ValueError, match=r"state must be \(2, 14\)"):
        tiny.imagine(hist, state[:, :7], acts)
    with pytest.raises(ValueError, match="task_index must be in"):
        tiny.imagine(hist, state, acts, task_index=torch.tensor([0, 9]))


def test_timestep_conditioned_noise_injecting_vae_decodes_reproducibly():
    """The LTX 0.9.1 decoder (GE preset) injects noise: seeded imagination must still reproduce."""
    from rise_env.models.dynamics.config import TINY_VAE

    vae = {**TINY_VAE, "timestep_conditioning": True, "decoder_inject_noise": [True, True, False]}
    model = DynamicsModel.from_preset("tiny", vae=vae).eval()
    hist, state, acts = _inputs(b=1)
    a = model.imagine(hist, state, acts, steps=2, seeds=[3])
    torch.manual_seed(123)
    b = model.imagine(hist, state, acts, steps=2, seeds=[3])
    assert torch.equal(a, b)

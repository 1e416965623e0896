"""Noise and loss options against their formulas (sd-scripts' custom_train_functions.py / train_util.py,
diffusers' zero-terminal-SNR rescale) on fixed tensors, in-process."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from danlu_engine.train import noise as N
from danlu_engine.train.step import PLAIN, MicroBatchLoss, NoiseSchedule

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ddpm():
    from danlu_engine.models.build import training_scheduler

    return training_scheduler(False)


def test_zero_terminal_snr_matches_diffusers_rescale(ddpm):
    from diffusers import DDPMScheduler

    reference = DDPMScheduler.from_config(ddpm.config, rescale_betas_zero_snr=True)
    betas = N.zero_terminal_snr_betas(ddpm.betas)
    torch.testing.assert_close(betas, reference.betas, rtol=1e-5, atol=1e-7)
    cumprod = torch.cumprod(1 - betas.double(), 0)
    assert cumprod[-1] == 0 and cumprod[0] == pytest.approx(float(ddpm.alphas_cumprod[0]), rel=1e-6)
    schedule = NoiseSchedule.from_scheduler(ddpm, torch.device("cpu"), True, zero_terminal_snr=True)
    assert schedule.snr[-1] == 0 and schedule.sqrt_alpha[-1] == 0 and schedule.sqrt_one_minus_alpha[-1] == 1


def test_min_snr_weights_follow_the_formula():
    snr = torch.tensor([0.01, 1.0, 5.0, 50.0])
    gamma = 5.0
    eps = N.min_snr_weight(snr, gamma, v_prediction=False)
    v = N.min_snr_weight(snr, gamma, v_prediction=True)
    torch.testing.assert_close(eps, torch.tensor([1.0, 1.0, 1.0, 0.1]))  # min(snr, 5) / snr
    torch.testing.assert_close(v, torch.tensor([0.01 / 1.01, 0.5, 5 / 6, 5 / 51]))  # min(snr, 5) / (snr + 1)
    assert N.min_snr_weight(torch.tensor([0.0]), gamma, False).item() == 1.0  # zero terminal SNR: the limit


def test_debiased_weights_follow_the_formula():
    snr = torch.tensor([0.25, 4.0, 1e6])
    torch.testing.assert_close(N.debiased_weight(snr, False), torch.tensor([2.0, 0.5, 1 / math.sqrt(1000)]))
    torch.testing.assert_close(N.debiased_weight(snr, True), torch.tensor([0.8, 0.2, 1 / 1001]))


def test_huber_thresholds_and_losses(ddpm):
    t = torch.tensor([0, 500, 999])
    c, scale = 0.1, 2.0
    const = N.huber_threshold("constant", c, scale, t, ddpm.alphas_cumprod, 1000)
    torch.testing.assert_close(const, torch.full((3,), 0.2))
    exp = N.huber_threshold("exponential", c, scale, t, ddpm.alphas_cumprod, 1000)
    torch.testing.assert_close(exp, scale * torch.exp(math.log(c) / 1000 * t.float()))  # c**(t/T) x scale
    snr = N.huber_threshold("snr", c, scale, t, ddpm.alphas_cumprod, 1000)
    a = ddpm.alphas_cumprod[t]
    torch.testing.assert_close(snr, (1 - c) / (1 + ((1 - a) / a).sqrt()) ** 2 + c)
    pred, target = torch.tensor([[0.0, 1.0], [3.0, -2.0]]), torch.tensor([[0.5, 1.0], [0.0, 0.0]])
    cs = torch.tensor([0.1, 1.0])
    d2 = (pred - target) ** 2
    huber = 2 * cs.view(-1, 1) * (torch.sqrt(d2 + cs.view(-1, 1) ** 2) - cs.view(-1, 1))
    torch.testing.assert_close(N.elementwise_loss(pred, target, "huber", cs), huber)
    torch.testing.assert_close(N.elementwise_loss(pred, target, "smooth_l1", cs), huber / cs.view(-1, 1))
    torch.testing.assert_close(N.elementwise_loss(pred, target, "l2", None), d2)
    torch.testing.assert_close(N.elementwise_loss(pred, target, "l1", None), (pred - target).abs())


def test_noise_offset_with_random_and_adaptive_strength():
    latents = torch.arange(2 * 4 * 3 * 3, dtype=torch.float32).view(2, 4, 3, 3) / 50 - 0.5
    base = torch.zeros(2, 4, 3, 3)
    out = N.offset_noise(base, latents, 0.1, False, None, torch.Generator().manual_seed(1))
    expected = 0.1 * torch.randn((2, 4, 1, 1), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(out, expected.expand(2, 4, 3, 3))
    out = N.offset_noise(base, latents, 0.1, True, 0.5, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    strength = torch.rand(1, generator=g) * 0.1 + 0.5 * latents.mean(dim=(2, 3), keepdim=True).abs()
    torch.testing.assert_close(out, (strength * torch.randn((2, 4, 1, 1), generator=g)).expand(2, 4, 3, 3))


def test_pyramid_noise_sums_upsampled_levels_and_rescales():
    noise = torch.randn(1, 2, 16, 16, generator=torch.Generator().manual_seed(0))
    out = N.pyramid_noise(noise, 6, 0.3, torch.Generator().manual_seed(3), torch.Generator().manual_seed(4))
    g, host, total = torch.Generator().manual_seed(3), torch.Generator().manual_seed(4), noise.clone()
    for i in range(6):
        r = float(torch.rand(1, generator=host)) * 2 + 2
        size = max(1, int(16 / r**i))
        total += F.interpolate(torch.randn(1, 2, size, size, generator=g), size=(16, 16), mode="bilinear") * 0.3**i
        if size == 1:
            break
    torch.testing.assert_close(out, total / total.std())
    assert out.std().item() == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(noise, torch.randn(1, 2, 16, 16, generator=torch.Generator().manual_seed(0)))


def loss_maker(ddpm, v_prediction: bool, **options) -> MicroBatchLoss:
    schedule = NoiseSchedule.from_scheduler(ddpm, torch.device("cpu"), v_prediction)
    maker = MicroBatchLoss.__new__(MicroBatchLoss)  # only the noise/loss parts: no model needed
    maker.schedule, maker.device, maker.noise_offset = schedule, torch.device("cpu"), 0.0
    maker.options = dataclasses.replace(PLAIN, **options)
    return maker


def test_plain_options_draw_what_training_always_drew(ddpm):
    latents = torch.zeros(3, 4, 8, 8)
    noise, t = loss_maker(ddpm, False)._noise_and_timesteps(latents, torch.Generator(), torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    torch.testing.assert_close(noise, torch.randn(latents.shape, generator=g))
    assert torch.equal(t, torch.randint(0, 1000, (3,), generator=g))


def test_timesteps_stay_in_the_range(ddpm):
    maker = loss_maker(ddpm, False, min_timestep=200, max_timestep=260)
    _, t = maker._noise_and_timesteps(torch.zeros(64, 4, 1, 1), torch.Generator(), torch.Generator().manual_seed(0))
    assert t.min() >= 200 and t.max() < 260 and len(set(t.tolist())) > 10


@pytest.mark.parametrize("v_prediction", [False, True])
def test_weighted_loss_combines_as_sd_scripts(ddpm, v_prediction):
    pred, target = torch.randn(2, 4, 4, 4), torch.randn(2, 4, 4, 4)
    t, weights = torch.tensor([10, 700]), torch.tensor([1.0, 0.5])
    maker = loss_maker(ddpm, v_prediction, loss_type="huber", huber_schedule="constant", huber_c=0.2,
                       min_snr_gamma=5.0, debiased_estimation_loss=True)
    snr = ddpm.alphas_cumprod[t] / (1 - ddpm.alphas_cumprod[t])
    c = torch.full((2,), 0.2).view(-1, 1, 1, 1)
    per_image = (2 * c * (torch.sqrt((pred - target) ** 2 + c**2) - c)).mean(dim=(1, 2, 3)) * weights
    per_image = per_image * torch.minimum(snr, torch.tensor(5.0)) / (snr + 1 if v_prediction else snr)
    per_image = per_image * (1 / (snr.clamp(max=1000) + 1) if v_prediction else 1 / snr.clamp(max=1000).sqrt())
    torch.testing.assert_close(maker._reduce(pred, target, t, weights), per_image.mean())
    plain = loss_maker(ddpm, v_prediction)._reduce(pred, target, t, weights)
    torch.testing.assert_close(plain, (F.mse_loss(pred, target, reduction="none").mean(dim=(1, 2, 3)) * weights).mean())

"""Noise, timestep and loss-weighting options, as sd-scripts defines them (names and formulas from
library/custom_train_functions.py and library/train_util.py; the code here is danlu's own).

Every function is pure on the tensors it gets; random draws come from the generators passed in, so a
micro-batch draws the same values whether or not the run was resumed.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SNR_CAP = 1000.0  # SNR at t=0 is huge (about 1e4 for SD); sd-scripts caps it at 1000 for debiased weighting


def zero_terminal_snr_betas(betas: torch.Tensor) -> torch.Tensor:
    """Lin et al. 2023 ("Common Diffusion Noise Schedules and Sample Steps are Flawed"): shift and scale
    sqrt(alpha_cumprod) so the last timestep is pure noise (SNR 0) and the first keeps its value."""
    root = torch.cumprod(1.0 - betas, 0).sqrt()  # in the betas dtype (float32), as sd-scripts and diffusers
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * (first / (first - last))
    cumprod = root**2
    alphas = torch.cat([cumprod[:1], cumprod[1:] / cumprod[:-1]])
    return 1.0 - alphas


def snr_of(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio alpha_bar / (1 - alpha_bar) per timestep."""
    return alphas_cumprod / (1.0 - alphas_cumprod)


def offset_noise(noise: torch.Tensor, latents: torch.Tensor, offset: float, random_strength: bool,
                 adaptive_scale: float | None, generator: torch.Generator) -> torch.Tensor:
    """noise + strength x N(0, 1) per (image, channel): shifts each channel's mean (crosslabs' offset noise).
    random_strength: strength drawn in [0, offset) once per micro-batch; adaptive_scale adds
    |channel mean of the latents| x adaptive_scale to it (clamped at 0)."""
    strength: float | torch.Tensor = offset
    if random_strength:
        strength = torch.rand(1, generator=generator, device=noise.device) * offset
    if adaptive_scale is not None:
        strength = (strength + adaptive_scale * latents.mean(dim=(2, 3), keepdim=True).abs()).clamp(min=0.0)
    shape = (latents.shape[0], latents.shape[1], 1, 1)
    return noise + strength * torch.randn(shape, generator=generator, device=noise.device)


def pyramid_noise(noise: torch.Tensor, iterations: int, discount: float, generator: torch.Generator,
                  host: torch.Generator) -> torch.Tensor:
    """Multi-resolution noise (Whitaker): add upsampled coarser noise, level i weighted discount**i at a
    random scale r**i (r in [2, 4)), stop at 1 px; then rescale to unit standard deviation."""
    b, c, h, w = noise.shape
    out = noise.clone()
    for i in range(iterations):
        r = float(torch.rand(1, generator=host)) * 2 + 2
        hn, wn = max(1, int(h / r**i)), max(1, int(w / r**i))
        coarse = torch.randn((b, c, hn, wn), generator=generator, device=noise.device)
        out = out + F.interpolate(coarse, size=(h, w), mode="bilinear") * discount**i
        if hn == 1 or wn == 1:
            break
    return out / out.std()


def min_snr_weight(snr: torch.Tensor, gamma: float, v_prediction: bool) -> torch.Tensor:
    """Hang et al. 2023 min-SNR-gamma: min(SNR, gamma) / SNR for epsilon, min(SNR, gamma) / (SNR + 1) for v.
    At SNR 0 (zero terminal SNR) the epsilon weight takes its limit, 1."""
    clipped = torch.minimum(snr, torch.full_like(snr, gamma))
    if v_prediction:
        return clipped / (snr + 1.0)
    return torch.where(snr > 0, clipped / snr.clamp(min=1e-20), torch.ones_like(snr))


def debiased_weight(snr: torch.Tensor, v_prediction: bool) -> torch.Tensor:
    """Debiased estimation (Yu et al. 2024): 1/sqrt(SNR) for epsilon, 1/(SNR+1) for v; SNR capped at 1000.
    At SNR 0 the epsilon weight is capped at 1000 rather than infinite."""
    snr = snr.clamp(max=SNR_CAP)
    if v_prediction:
        return 1.0 / (snr + 1.0)
    return 1.0 / snr.clamp(min=1.0 / SNR_CAP**2).sqrt()


def huber_threshold(schedule: str, c: float, scale: float, t: torch.Tensor, alphas_cumprod: torch.Tensor,
                    steps: int) -> torch.Tensor:
    """Per-image Huber threshold: constant c x scale; exponential scale x c**(t/T); snr
    (1 - c) / (1 + sigma)**2 + c with sigma = sqrt((1 - alpha_bar) / alpha_bar)."""
    if schedule == "constant":
        return torch.full(t.shape, c * scale, device=t.device)
    if schedule == "exponential":
        return torch.exp(math.log(c) / steps * t.float()) * scale
    a = alphas_cumprod[t]
    sigma = ((1.0 - a) / a).sqrt()
    return (1.0 - c) / (1.0 + sigma) ** 2 + c


def elementwise_loss(pred: torch.Tensor, target: torch.Tensor, kind: str, c: torch.Tensor | None) -> torch.Tensor:
    """l2: (p - y)^2; l1: |p - y|; huber: 2c (sqrt((p - y)^2 + c^2) - c); smooth_l1: 2 (sqrt((p - y)^2 + c^2) - c)."""
    if kind == "l2":
        return F.mse_loss(pred, target, reduction="none")
    if kind == "l1":
        return F.l1_loss(pred, target, reduction="none")
    assert c is not None, f"{kind} needs the threshold c"
    c = c.view(-1, *([1] * (pred.ndim - 1)))
    soft = torch.sqrt((pred - target) ** 2 + c**2) - c
    return 2 * c * soft if kind == "huber" else 2 * soft

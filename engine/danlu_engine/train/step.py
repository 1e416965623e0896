"""One micro-batch's loss: latents + text -> noise, timesteps -> UNet -> weighted loss.

The options (noise offset, multires noise, timestep range, loss type, min-SNR, debiased weighting; formulas
in noise.py) follow sd-scripts' order: noise, offset, multires noise, timesteps; then the elementwise loss,
the alpha mask (masked_loss), its mean per image, the per-image weight (prior_loss_weight), the SNR weighting, the batch mean.

Every random draw of a micro-batch (flips, noise, noise offset, timesteps, VAE sampling) comes from
generators seeded by (seed, micro-batch index), so a run resumed at step k draws exactly what an
uninterrupted run draws there, whatever happened before.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from ..spec import BatchSpec, ImageSpec, LossSpec
from .data import sdxl_time_ids
from .masks import MaskSource
from .noise import (
    debiased_weight,
    elementwise_loss,
    huber_threshold,
    min_snr_weight,
    offset_noise,
    pyramid_noise,
    snr_of,
    zero_terminal_snr_betas,
)

SEED_STRIDE = 1_000_003  # a prime: (seed, index) pairs map to distinct generator seeds
DROPOUT_SALT = 0x5EED_D809  # the dropouts' stream is not the noise generators' of the same micro-batch


def micro_seed(seed: int, index: int) -> int:
    return (seed * SEED_STRIDE + index) % (2**63)


@dataclass
class NoiseSchedule:
    """DDPM forward process terms on the device (diffusers' add_noise/get_velocity copy them per call)."""

    sqrt_alpha: torch.Tensor  # [T] sqrt(alpha_cumprod)
    sqrt_one_minus_alpha: torch.Tensor  # [T] sqrt(1 - alpha_cumprod)
    v_prediction: bool
    alphas_cumprod: torch.Tensor  # [T]
    snr: torch.Tensor  # [T] alpha_cumprod / (1 - alpha_cumprod)

    @classmethod
    def from_scheduler(cls, scheduler, device: torch.device, v_prediction: bool,
                       zero_terminal_snr: bool = False) -> NoiseSchedule:
        """zero_terminal_snr: train on rescaled betas (the model's own scheduler is left as it is)."""
        alphas = scheduler.alphas_cumprod
        if zero_terminal_snr:
            alphas = torch.cumprod(1.0 - zero_terminal_snr_betas(scheduler.betas), 0)
        alphas = alphas.to(device, torch.float32)
        return cls(alphas.sqrt(), (1.0 - alphas).sqrt(), v_prediction, alphas, snr_of(alphas))

    @property
    def steps(self) -> int:
        return self.sqrt_alpha.shape[0]


# Every option off: plain L2 over all timesteps (what a spec's defaults say).
PLAIN = LossSpec(False, None, 0, 0.3, False, None, False, "l2", "snr", 0.1, 1.0, 0, 1000, False)


class MicroBatchLoss:
    """Computes the loss of one micro-batch; holds what every micro-batch shares."""

    def __init__(self, images: list[ImageSpec], latents, text, unet, schedule: NoiseSchedule, device, precision,
                 seed: int, noise_offset: float, is_sdxl: bool, options: LossSpec | None = None):
        self.images, self.latents, self.text, self.unet = images, latents, text, unet
        self.schedule, self.device, self.precision = schedule, device, precision
        self.seed, self.noise_offset, self.is_sdxl = seed, noise_offset, is_sdxl
        self.options = options or PLAIN
        self.masks = MaskSource(images) if self.options.masked_loss else None
        self.weights = torch.tensor([im.loss_weight for im in images], dtype=torch.float32).to(device)
        self.time_ids = torch.tensor([sdxl_time_ids(im) for im in images], dtype=torch.float32).to(device)
        # a flipped image's crop left is measured from the right (data.sdxl_time_ids)
        self.flipped_time_ids = torch.tensor([sdxl_time_ids(im, True) for im in images],
                                             dtype=torch.float32).to(device)

    def autocast(self):
        if not self.precision.autocast:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.precision.weight)

    def _generators(self, index: int) -> tuple[torch.Generator, torch.Generator]:
        seed = micro_seed(self.seed, index)
        host = torch.Generator().manual_seed(seed)
        if self.device.type == "cpu":
            return host, host
        return host, torch.Generator(device=self.device).manual_seed(seed)

    def _dropout_rng(self, index: int) -> contextlib.AbstractContextManager:
        """The network's dropouts draw from torch's global RNG (F.dropout takes no generator). Seeded here by
        (seed, micro-batch) like the noise, inside fork_rng so no other stream moves: the masks do not depend
        on what drew before (another rank, a resume, a sample). Gradient checkpointing saves the RNG state at
        the forward and replays it in the backward pass, so a recomputed layer draws the same masks."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []))
        torch.manual_seed(micro_seed(self.seed ^ DROPOUT_SALT, index))
        return stack

    def __call__(self, batch: BatchSpec, index: int) -> torch.Tensor:
        host, dev = self._generators(index)
        chosen = torch.rand(len(batch.images), generator=host).tolist()  # host draw: no device sync
        flips = [self.images[i].flip and r < 0.5 for i, r in zip(batch.images, chosen, strict=True)]
        latents = self.latents.batch(batch.images, flips, dev)
        noise, t = self._noise_and_timesteps(latents, host, dev)
        a = self.schedule.sqrt_alpha[t].view(-1, 1, 1, 1)
        s = self.schedule.sqrt_one_minus_alpha[t].view(-1, 1, 1, 1)
        noisy = a * latents + s * noise
        target = a * noise - s * latents if self.schedule.v_prediction else noise
        index_tensor = torch.tensor(batch.images).to(self.device, non_blocking=True)
        with self._dropout_rng(index), self.autocast():
            hidden, pooled = self.text(batch.captions)
            extra = {"text_embeds": pooled, "time_ids": self._time_ids(batch.images, flips)} if self.is_sdxl else None
            if self.device.type == "cuda":
                noisy = noisy.contiguous(memory_format=torch.channels_last)
            pred = self.unet(noisy, t, hidden, added_cond_kwargs=extra).sample
        mask = self.masks.batch(batch.images, flips, tuple(pred.shape[-2:]), self.device) if self.masks else None
        return self._reduce(pred.float(), target, t, self.weights[index_tensor], mask)

    def _time_ids(self, indices: list[int], flips: list[bool]) -> torch.Tensor:
        return torch.stack([(self.flipped_time_ids if f else self.time_ids)[i] for i, f in zip(indices, flips, strict=True)])

    def _noise_and_timesteps(self, latents: torch.Tensor, host: torch.Generator, dev: torch.Generator):
        o = self.options
        noise = torch.randn(latents.shape, generator=dev, device=self.device)
        if self.noise_offset:
            noise = offset_noise(noise, latents, self.noise_offset, o.noise_offset_random_strength,
                                 o.adaptive_noise_scale, dev)
        if o.multires_noise_iterations:
            noise = pyramid_noise(noise, o.multires_noise_iterations, o.multires_noise_discount, dev, host)
        high = min(o.max_timestep, self.schedule.steps)
        t = torch.randint(o.min_timestep, high, (latents.shape[0],), generator=dev, device=self.device)
        return noise, t

    def _reduce(self, pred: torch.Tensor, target: torch.Tensor, t: torch.Tensor, weights: torch.Tensor,
                mask: torch.Tensor | None = None):
        o = self.options
        s = self.schedule
        c = None
        if o.loss_type in ("huber", "smooth_l1"):
            c = huber_threshold(o.huber_schedule, o.huber_c, o.huber_scale, t, s.alphas_cumprod, s.steps)
        loss = elementwise_loss(pred, target, o.loss_type, c)
        if mask is not None:  # masked_loss: [B, 1, h, w] alpha at latent size (masks.py)
            loss = loss * mask
        per_image = loss.mean(dim=(1, 2, 3)) * weights
        if o.min_snr_gamma:
            per_image = per_image * min_snr_weight(s.snr[t], o.min_snr_gamma, s.v_prediction)
        if o.debiased_estimation_loss:
            per_image = per_image * debiased_weight(s.snr[t], s.v_prediction)
        return per_image.mean()

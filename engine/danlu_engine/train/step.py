"""One micro-batch's loss: latents + text -> noise, timesteps -> UNet -> weighted MSE.

Every random draw of a micro-batch (flips, noise, noise offset, timesteps, VAE sampling) comes from
generators seeded by (seed, micro-batch index), so a run resumed at step k draws exactly what an
uninterrupted run draws there, whatever happened before.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..spec import BatchSpec, ImageSpec
from .data import sdxl_time_ids

SEED_STRIDE = 1_000_003  # a prime: (seed, index) pairs map to distinct generator seeds


def micro_seed(seed: int, index: int) -> int:
    return (seed * SEED_STRIDE + index) % (2**63)


@dataclass
class NoiseSchedule:
    """DDPM forward process terms on the device (diffusers' add_noise/get_velocity copy them per call)."""

    sqrt_alpha: torch.Tensor  # [T] sqrt(alpha_cumprod)
    sqrt_one_minus_alpha: torch.Tensor  # [T] sqrt(1 - alpha_cumprod)
    v_prediction: bool

    @classmethod
    def from_scheduler(cls, scheduler, device: torch.device, v_prediction: bool) -> "NoiseSchedule":
        alphas = scheduler.alphas_cumprod.to(device, torch.float32)
        return cls(alphas.sqrt(), (1.0 - alphas).sqrt(), v_prediction)

    @property
    def steps(self) -> int:
        return self.sqrt_alpha.shape[0]


class MicroBatchLoss:
    """Computes the loss of one micro-batch; holds what every micro-batch shares."""

    def __init__(self, images: list[ImageSpec], latents, text, unet, schedule: NoiseSchedule, device, precision,
                 seed: int, noise_offset: float, is_sdxl: bool):
        self.images, self.latents, self.text, self.unet = images, latents, text, unet
        self.schedule, self.device, self.precision = schedule, device, precision
        self.seed, self.noise_offset, self.is_sdxl = seed, noise_offset, is_sdxl
        self.weights = torch.tensor([im.loss_weight for im in images], dtype=torch.float32).to(device)
        self.time_ids = torch.tensor([sdxl_time_ids(im) for im in images], dtype=torch.float32).to(device)

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

    def __call__(self, batch: BatchSpec, index: int) -> torch.Tensor:
        host, dev = self._generators(index)
        chosen = torch.rand(len(batch.images), generator=host).tolist()  # host draw: no device sync
        flips = [self.images[i].flip and r < 0.5 for i, r in zip(batch.images, chosen)]
        latents = self.latents.batch(batch.images, flips, dev)
        noise = torch.randn(latents.shape, generator=dev, device=self.device)
        if self.noise_offset:
            offset = torch.randn((latents.shape[0], latents.shape[1], 1, 1), generator=dev, device=self.device)
            noise = noise + self.noise_offset * offset
        t = torch.randint(0, self.schedule.steps, (latents.shape[0],), generator=dev, device=self.device)
        a = self.schedule.sqrt_alpha[t].view(-1, 1, 1, 1)
        s = self.schedule.sqrt_one_minus_alpha[t].view(-1, 1, 1, 1)
        noisy = a * latents + s * noise
        target = a * noise - s * latents if self.schedule.v_prediction else noise
        index_tensor = torch.tensor(batch.images).to(self.device, non_blocking=True)
        with self.autocast():
            hidden, pooled = self.text(batch.captions)
            extra = {"text_embeds": pooled, "time_ids": self.time_ids[index_tensor]} if self.is_sdxl else None
            if self.device.type == "cuda":
                noisy = noisy.contiguous(memory_format=torch.channels_last)
            pred = self.unet(noisy, t, hidden, added_cond_kwargs=extra).sample
        per_image = F.mse_loss(pred.float(), target, reduction="none").mean(dim=(1, 2, 3))
        return (per_image * self.weights[index_tensor]).mean()

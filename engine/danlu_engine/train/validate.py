"""The validation loss: held-out images scored at fixed timesteps with fixed noise.

Every evaluation sees the same inputs: each validation image's latent is its VAE posterior mean, its noise
is drawn once from a generator seeded by (VALIDATION_SEED, its position in the list) on the CPU (so the
same on every device and in every run), and it is scored at every one of the spec's timesteps (spread over
the schedule). Only the network's weights change between evaluations, so the figures are comparable
across steps and across runs. The loss itself is the training loss (step.py's reduction, with the run's
loss type and weighting), so it reads on the same scale as the training loss.
"""
from __future__ import annotations

import contextlib
import time

import torch

from ..protocol import EngineError, emit
from ..spec import TrainSpec
from .step import MicroBatchLoss, micro_seed

VALIDATION_SEED = 7_070_707  # not the run's seed: runs with other seeds draw the same validation noise


def prepare_validation(spec: TrainSpec, latents, text, precision) -> None:
    """Encode the validation images (posterior mean) and, when the text encoders are frozen, their captions,
    before the VAE and the text encoders may be moved off the device."""
    entries = spec.validation.images
    if not entries:
        return
    latents.cache(sorted({e.image for e in entries}), None, lambda done, total: None)
    if text.use_cache:
        device = latents.device
        autocast = torch.autocast(device.type, dtype=precision.weight) if precision.autocast else contextlib.nullcontext()
        with autocast:
            text.precache([e.caption for e in entries], lambda done, total: None)


class Validator:
    """Computes and reports the validation loss at the steps the spec asks for."""

    def __init__(self, spec: TrainSpec, loss_of: MicroBatchLoss, network: torch.nn.Module):
        self.entries = spec.validation.images
        self.every = spec.validation.every_n_steps
        self.loss_of, self.network = loss_of, network
        steps = loss_of.schedule.steps
        bad = [t for t in spec.validation.timesteps if not 0 <= t < steps]
        if bad or not spec.validation.timesteps:
            raise EngineError("BAD_SPEC", f"spec key validation.timesteps: {spec.validation.timesteps} must be "
                                          f"a non-empty list within the model's {steps} timesteps")
        self.t = torch.tensor(spec.validation.timesteps, dtype=torch.long, device=loss_of.device)
        self.noise: list[torch.Tensor] = []  # per image [1, C, h, w] on the device, drawn at first use

    def after_step(self, step: int, epoch: int, epoch_ended: bool) -> None:
        if epoch_ended or (self.every and step % self.every == 0):
            self.report(step, epoch)

    def report(self, step: int, epoch: int) -> float:
        started = time.perf_counter()
        loss = self.evaluate()
        emit("validation", step=step, epoch=epoch, loss=loss, images=len(self.entries))
        emit("log", level="debug", message=f"validation loss {loss:.6f} in {time.perf_counter() - started:.2f} s")
        return loss

    @torch.no_grad()
    def evaluate(self) -> float:
        """The mean loss over the validation images x timesteps (network in eval mode: no dropout)."""
        was_training = self.network.training
        self.network.eval()
        try:
            return sum(self._image_loss(k) for k in range(len(self.entries))) / len(self.entries)
        finally:
            self.network.train(was_training)

    def _fixed_noise(self, position: int, latent: torch.Tensor) -> torch.Tensor:
        if position == len(self.noise):  # evaluate() goes through the images in order
            generator = torch.Generator().manual_seed(micro_seed(VALIDATION_SEED, position))
            self.noise.append(torch.randn(latent.shape, generator=generator).to(self.loss_of.device))
        return self.noise[position]

    def _latent(self, position: int) -> torch.Tensor:
        return self.loss_of.latents.batch([self.entries[position].image], [False], None)  # cached mean [1,C,h,w]

    def _image_loss(self, position: int) -> float:
        lo, entry, n = self.loss_of, self.entries[position], len(self.t)
        latent = self._latent(position)
        latents = latent.expand(n, -1, -1, -1)
        noise = self._fixed_noise(position, latent).expand(n, -1, -1, -1)
        a = lo.schedule.sqrt_alpha[self.t].view(-1, 1, 1, 1)
        s = lo.schedule.sqrt_one_minus_alpha[self.t].view(-1, 1, 1, 1)
        noisy = a * latents + s * noise
        target = a * noise - s * latents if lo.schedule.v_prediction else noise
        with lo.autocast():
            hidden, pooled = lo.text([entry.caption] * n)
            extra = None
            if lo.is_sdxl:
                extra = {"text_embeds": pooled, "time_ids": lo.time_ids[[entry.image] * n]}
            pred = lo.unet(noisy, self.t, hidden, added_cond_kwargs=extra).sample
        weights = torch.ones(n, device=lo.device)
        size = tuple(pred.shape[-2:])
        mask = lo.masks.batch([entry.image] * n, [False] * n, size, lo.device) if lo.masks else None  # masked_loss
        return float(lo._reduce(pred.float(), target, self.t, weights, mask))  # step.py's loss, as in training

"""The train-many loop: the optimizer steps of several jobs on one base model, one UNet forward per micro-batch.

A pass takes one optimizer step of every job in a slot. Accumulation round a of the pass concatenates
the a-th micro-batch of each job's step (a job whose step has fewer micro-batches sits that round out);
each job draws its flips, noise and timesteps from its own (seed, micro-batch index) generators exactly as
``MicroBatchLoss`` does, so its randoms are its solo run's. The loss splits back per job: the sum over jobs
of each job's mean loss / its step's micro-batches. A job's samples pass only through its own adapter, so
the gradient of its parameters is its solo gradient (up to the order of float sums in the batched base
layers). Then each job clips, steps its own optimizer and schedule, reports and saves as a solo run does
(loop.py's helpers, on a per-job ``Run``); its events go out inside ``job`` events (``job_events``).
"""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from .. import cancel, protocol
from ..network.batched import SharedLoRA
from ..protocol import emit
from ..spec import BatchSpec
from .loop import (
    MicroBatch,
    Run,
    StepTimer,
    _after_step,
    _emit_progress,
    _save_state,
    checked_loss,
    optimizer_step,
    optimizer_steps,
)
from .optimizers import evaluation_weights, start_training
from .outputs import final_file, step_state_dir
from .step import MicroBatchLoss


class _JobStream:
    """Stands in for protocol's stdout: each event line goes out wrapped in a ``job`` event."""

    def __init__(self, job_id: str, out):
        self.job_id, self.out = job_id, out

    def write(self, text: str) -> None:
        for line in text.splitlines():
            fields = {"id": self.job_id, "data": json.loads(line)}
            protocol._check("job", fields)
            self.out.write(json.dumps({"event": "job", **fields}, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self.out.flush()


@contextlib.contextmanager
def job_events(job_id: str) -> Iterator[None]:
    """Every event emitted inside goes out as ``{"event": "job", "id": job_id, "data": {the event}}``."""
    real = protocol._stdout
    protocol._stdout = _JobStream(job_id, real)
    try:
        yield
    finally:
        protocol._stdout = real


@dataclass
class Job:
    id: str
    run: Run  # the solo run's pieces: spec, its own network, optimizer, schedule, scaler, saver
    loss_of: MicroBatchLoss
    join_at: int  # the pass before which the job joins (0: at the start)
    slot: int = -1
    step: int = 0  # optimizer steps done
    losses: list[float] = field(default_factory=list)
    timer: StepTimer = field(default_factory=StepTimer)
    started: float = field(default_factory=time.perf_counter)
    steps: list[list[MicroBatch]] = field(init=False)

    def __post_init__(self) -> None:
        self.steps = optimizer_steps(self.run.spec)


@dataclass
class _Prepared:
    """One job's micro-batch up to the UNet: its inputs, and what its loss needs after."""

    job: Job
    batch: BatchSpec
    noisy: torch.Tensor
    t: torch.Tensor
    hidden: torch.Tensor
    target: torch.Tensor
    flips: list[bool]
    extra: dict | None


def prepare(job: Job, batch: BatchSpec, index: int) -> _Prepared:
    """MicroBatchLoss.__call__ up to the UNet, with the same draws in the same order."""
    m = job.loss_of
    host, dev = m._generators(index)
    chosen = torch.rand(len(batch.images), generator=host).tolist()
    flips = [m.images[i].flip and r < 0.5 for i, r in zip(batch.images, chosen, strict=True)]
    latents = m.latents.batch(batch.images, flips, dev)
    noise, t = m._noise_and_timesteps(latents, host, dev)
    a = m.schedule.sqrt_alpha[t].view(-1, 1, 1, 1)
    s = m.schedule.sqrt_one_minus_alpha[t].view(-1, 1, 1, 1)
    noisy = a * latents + s * noise
    target = a * noise - s * latents if m.schedule.v_prediction else noise
    with m.autocast():
        hidden, pooled = m.text(batch.captions)
    extra = {"text_embeds": pooled, "time_ids": m._time_ids(batch.images, flips)} if m.is_sdxl else None
    return _Prepared(job, batch, noisy, t, hidden, target, flips, extra)


def joint_losses(unet, parts: list[_Prepared], shared: SharedLoRA) -> list[torch.Tensor]:
    """One UNet forward over every job's micro-batch; each job's loss as its MicroBatchLoss reduces it."""
    shared.set_route([(p.job.slot, len(p.batch.images)) for p in parts])
    first = parts[0].job.loss_of
    noisy = torch.cat([p.noisy for p in parts])
    extra = None
    if first.is_sdxl:
        extra = {k: torch.cat([p.extra[k] for p in parts if p.extra]) for k in ("text_embeds", "time_ids")}
    with first.autocast():
        if first.device.type == "cuda":
            noisy = noisy.contiguous(memory_format=torch.channels_last)
        pred = unet(noisy, torch.cat([p.t for p in parts]), torch.cat([p.hidden for p in parts]),
                    added_cond_kwargs=extra).sample
    losses, start = [], 0
    for p in parts:
        m, stop = p.job.loss_of, start + len(p.batch.images)
        rows = torch.tensor(p.batch.images).to(m.device, non_blocking=True)
        size = tuple(pred.shape[-2:])
        mask = m.masks.batch(p.batch.images, p.flips, size, m.device) if m.masks else None
        losses.append(m._reduce(pred[start:stop].float(), p.target, p.t, m.weights[rows], mask))
        start = stop
    return losses


def joint_step(unet, jobs: list[Job], shared: SharedLoRA) -> dict[str, float]:
    """One optimizer step of every job; returns each job's step loss (the mean over its micro-batches)."""
    groups = {job.id: job.steps[job.step] for job in jobs}
    totals = {job.id: torch.zeros((), device=job.run.device) for job in jobs}
    for a in range(max(len(g) for g in groups.values())):
        parts = [prepare(job, groups[job.id][a][2], groups[job.id][a][1]) for job in jobs if a < len(groups[job.id])]
        losses = joint_losses(unet, parts, shared)
        objective = torch.zeros((), device=losses[0].device)
        for p, loss in zip(parts, losses, strict=True):
            totals[p.job.id] = totals[p.job.id] + loss.detach()
            scaled = loss / len(groups[p.job.id])
            objective = objective + (p.job.run.scaler.scale(scaled) if p.job.run.scaler else scaled)
        objective.backward()
    values = {}
    for job in jobs:
        optimizer_step(job.run, job.step + 1)
        values[job.id] = (totals[job.id] / len(groups[job.id])).item()
    return values


def after_job_step(job: Job, loss: float) -> None:
    """Progress, epoch/step saves (loop.py's), and the NaN check, for one job's finished step."""
    job.step += 1
    step, group = job.step, job.steps[job.step - 1]
    job.losses.append(checked_loss(loss, step))
    last_step_of_epoch = {e: k + 1 for k, g in enumerate(job.steps) for e, _, _ in g}
    epoch = group[-1][0]
    _emit_progress(job.run, step, epoch, loss, job.timer, sum(len(b.images) for _, _, b in group))
    ended = sorted({e for e, _, _ in group if last_step_of_epoch[e] == step})
    with evaluation_weights(job.run.optimizer):
        _after_step(job.run, step, epoch, ended)
    job.timer.reset_lap()


def start_job(job: Job) -> None:
    emit("phase", name="train", current=0, total=len(job.steps))
    start_training(job.run.optimizer)
    job.timer, job.started = StepTimer(), time.perf_counter()


def finish_job(job: Job) -> None:
    """The final file and the job's ``done`` event (a solo run's last events)."""
    run = job.run
    with evaluation_weights(run.optimizer):
        run.saver.save_lora(run.network, "final", final_file(run.spec.output.name), len(run.spec.epochs), job.step)
    emit("done", outputs=run.saver.outputs, steps=job.step, elapsed_s=time.perf_counter() - job.started)


def cancel_job(job: Job) -> None:
    """A resumable state of the job's progress (when it has one) and its ``cancelled`` event."""
    path = None
    if job.step:
        epoch = job.steps[job.step - 1][-1][0]
        path = _save_state(job.run, step_state_dir(job.run.spec.output.name, job.step), epoch, job.step)
    emit("cancelled", state_dir=path, step=job.step)


def check_cancel(active: list[Job], waiting: list[str], passes: int) -> None:
    """On SIGTERM: every running job saves its state, every waiting one reports step 0; then stop."""
    if not cancel.requested():
        return
    for job in active:
        with job_events(job.id):
            cancel_job(job)
    for job_id in waiting:
        with job_events(job_id):
            emit("cancelled", state_dir=None, step=0)
    raise cancel.Cancelled(None, passes)

"""The training loop: optimizer steps over the plan, with progress, saves, samples and cancellation.

An optimizer step takes N x A consecutive micro-batches of one epoch (N = processes, A = gradient
accumulation steps; an epoch's last step takes what is left), as the TypeScript plan counts them and
sd-scripts' dataloader ends an epoch; so a resumed run knows exactly which micro-batches are already done.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import cancel
from ..protocol import EngineError, emit
from ..spec import BatchSpec, TrainSpec
from . import distributed
from .optimizers import evaluation_weights, start_training
from .outputs import (
    Saver,
    epoch_file,
    epoch_state_dir,
    final_file,
    saves_epoch,
    saves_step,
    step_file,
    step_state_dir,
)
from .pivotal import PivotalTuner
from .state import TrainState, save_state
from .validate import Validator

# (epoch starting at 1, index of the micro-batch in the whole plan, the batch)
MicroBatch = tuple[int, int, BatchSpec]


@dataclass
class Run:
    spec: TrainSpec
    device: torch.device
    network: torch.nn.Module
    loss_of: Callable[[BatchSpec, int], torch.Tensor]  # several processes: through DDP (distributed.wrap)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None
    saver: Saver
    sample: Callable[[int, int, str], None] | None  # (epoch, step, "epoch"|"step"|"start")
    fingerprint: str
    validator: Validator | None = None  # the validation loss, when the spec has validation images
    pivotal: PivotalTuner | None = None  # pivotal tuning's new token rows, when the spec has them


def optimizer_steps(spec: TrainSpec) -> list[list[MicroBatch]]:
    """Each step's micro-batches: (epoch, index in the whole plan, batch)."""
    size = spec.training.gradient_accumulation_steps * spec.training.num_processes
    steps: list[list[MicroBatch]] = []
    first = 0
    for e, batches in enumerate(spec.epochs):
        epoch = [(e + 1, first + j, b) for j, b in enumerate(batches)]
        steps += [epoch[i : i + size] for i in range(0, len(epoch), size)]
        first += len(batches)
    return steps


class StepTimer:
    """Smoothed optimizer steps per second (exponential moving average of step durations)."""

    def __init__(self, smoothing: float = 0.1):
        self.mean_s: float | None = None
        self.smoothing, self.last = smoothing, time.perf_counter()
        self.started = self.last

    def tick(self, dt: float | None = None) -> float:
        """One step ended now (or took ``dt`` seconds: a step reported after the fact, see _Pending)."""
        if dt is None:
            now = time.perf_counter()
            dt, self.last = now - self.last, now
        self.mean_s = dt if self.mean_s is None else self.mean_s + self.smoothing * (dt - self.mean_s)
        return 1.0 / max(self.mean_s, 1e-9)

    def reset_lap(self) -> None:
        self.last = time.perf_counter()  # time spent saving or sampling is not a training step


# On a GPU the loss is read (one host-device sync) every LOSS_READ_EVERY steps, not after each step, so the
# host queues the next step's kernels while the device still runs this one. Steps where anything else
# happens (the first, the last, an epoch end, a save, a sample, validation, a cancel) are read points too.
# On the CPU every op has finished when it returns, so reading each step costs nothing: interval 1.
LOSS_READ_EVERY = 10


def loss_read_interval(device: torch.device) -> int:
    return LOSS_READ_EVERY if device.type == "cuda" else 1


@dataclass
class _Pending:
    """A step whose loss is still on the device."""

    step: int
    epoch: int
    loss: torch.Tensor
    images: int
    lr: float
    lap: float  # seconds since the previous step ended (host time; the read point adds the device's tail)
    end: float  # time.perf_counter() when the host finished queueing it


def _step(run: Run, group: list[MicroBatch], step: int) -> float:
    """_queue_step, then read the loss (a host-device sync) and stop on NaN."""
    return checked_loss(_queue_step(run, group, step).item(), step)


def checked_loss(value: float, step: int) -> float:
    if not math.isfinite(value):
        raise EngineError(
            "NAN_LOSS",
            f"the loss became {value} at step {step}",
            "lower the learning rate, set max_grad_norm (e.g. 1.0), use bf16 instead of fp16, "
            "or keep the VAE in float32 (vae_fp32)",
        )
    return value


def _queue_step(run: Run, group: list[MicroBatch], step: int) -> torch.Tensor:
    """Forward/backward this rank's share of the group, then one optimizer step; returns the mean loss over
    the whole group (distributed.py: why the ranks' mean gradient equals one process's), still on the device."""
    total = torch.zeros((), device=run.device)
    mine = distributed.share(group)
    per_rank = len(group) / distributed.world_size()  # one process: the group's size, as accumulation divides
    for k, (_, index, batch) in enumerate(mine or [(0, -1, None)]):  # None: a zero loss, for the all-reduce
        with distributed.no_sync(run.loss_of, last=k == len(mine) - 1 or not mine):
            loss = run.loss_of(batch, index)
            total = total + loss.detach()
            scaled = loss / per_rank
            (run.scaler.scale(scaled) if run.scaler else scaled).backward()
    if distributed.world_size() > 1:
        total = distributed.sum_across(total)
        if run.pivotal:  # the token rows are outside DDP's module
            distributed.average_gradients([p for g in run.pivotal.optimizer.param_groups for p in g["params"]])
    optimizer_step(run, step)
    return (total / len(group)).detach()


def optimizer_step(run: Run, step: int) -> None:
    """After the backward: unscale, clip, pivotal's token rows, the optimizer and schedule steps, zero grads."""
    if run.scaler:
        run.scaler.unscale_(run.optimizer)
    if run.spec.optimizer.max_grad_norm > 0:
        params = [p for g in run.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, run.spec.optimizer.max_grad_norm)
    if run.pivotal:
        run.pivotal.step(step, run.scaler)  # before the scaler's update
    if run.scaler:
        run.scaler.step(run.optimizer)
        run.scaler.update()
    else:
        run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)


def _save_state(run: Run, folder_name: str, epoch: int, step: int) -> str:
    path = run.saver.path(folder_name)
    extra = run.pivotal.save_state if run.pivotal else None
    state = TrainState(epoch, step, run.fingerprint, run.spec.run_record)
    save_state(path, run.network, run.optimizer, run.scheduler, run.scaler, state, extra)
    run.saver.record_state(path, epoch, step)
    return path


def _check_cancel(run: Run, epoch: int, step: int) -> None:
    if distributed.any_across(cancel.requested()):  # every rank stops at the same step
        name = step_state_dir(run.spec.output.name, step)
        path = _save_state(run, name, epoch, step) if distributed.is_main() else run.saver.path(name)
        distributed.barrier()
        raise cancel.Cancelled(path, step)


def _after_step(run: Run, step: int, epoch: int, ended_epochs: list[int]) -> None:
    """Epoch saves/samples for epochs that ended in this step, then step saves/samples (``epoch``: the
    epoch of the step's last micro-batch)."""
    spec, name = run.spec, run.spec.output.name
    for ended in ended_epochs:
        if saves_epoch(spec, ended):
            _save_point(run, "epoch", epoch_file(name, ended), epoch_state_dir(name, ended), ended, step)
        every = spec.sample.every_n_epochs
        if run.sample and every and ended % every == 0:
            run.sample(ended, step, "epoch")
    if saves_step(spec, step):
        _save_point(run, "step", step_file(name, step), step_state_dir(name, step), epoch, step)
    every = spec.sample.every_n_steps
    if run.sample and every and step % every == 0:
        run.sample(epoch, step, "step")


def _save_point(run: Run, kind: str, file_name: str, state_dir: str, epoch: int, step: int) -> None:
    """A LoRA file, and with save_state the resumable state beside it."""
    run.saver.save_lora(run.network, kind, file_name, epoch, step)
    if run.spec.output.save_state:
        _save_state(run, state_dir, epoch, step)


def _emit_progress(run: Run, step: int, epoch: int, loss: float, timer: StepTimer, images: int,
                   lap: float | None = None, end: float | None = None, lr: float | None = None) -> None:
    """One progress event; lap/end/lr: a step read after the fact (its duration, end time and lr then)."""
    it_per_s = timer.tick(lap)
    memory = torch.cuda.max_memory_allocated(run.device) / 2**20 if run.device.type == "cuda" else None
    emit(
        "progress",
        step=step,
        total_steps=run.spec.training.total_steps,
        epoch=epoch,
        loss=loss,
        lr=float(run.optimizer.param_groups[0]["lr"]) if lr is None else lr,
        it_per_s=it_per_s,
        images_per_s=it_per_s * images,
        memory_mb=memory,
        elapsed_s=(time.perf_counter() if end is None else end) - timer.started,
    )


def _read_losses(run: Run, pending: list[_Pending], timer: StepTimer) -> list[float]:
    """One sync for every pending step; then their progress events in order (the protocol: one per step)."""
    values = torch.stack([p.loss for p in pending]).tolist()
    now = time.perf_counter()
    last = pending[-1]
    last.lap, last.end = last.lap + now - last.end, now  # the device finished the last step only now
    timer.last = now
    out = []
    for p, value in zip(pending, values, strict=True):
        out.append(checked_loss(value, p.step))
        _emit_progress(run, p.step, p.epoch, value, timer, p.images, p.lap, p.end, p.lr)
    pending.clear()
    return out


def _read_point(run: Run, step: int, first: int, every: int, ended: list[int]) -> bool:
    spec = run.spec
    sampled = bool(run.sample and spec.sample.every_n_steps and step % spec.sample.every_n_steps == 0)
    return (step == first or step == spec.training.total_steps or step % every == 0 or bool(ended)
            or saves_step(spec, step) or sampled or run.validator is not None or cancel.requested()
            or distributed.world_size() > 1)


def train(run: Run, start_step: int) -> list[float]:
    """Run optimizer steps start_step+1 .. total, then save the final file; returns the step losses."""
    steps = optimizer_steps(run.spec)
    last_step_of_epoch = {epoch: k + 1 for k, group in enumerate(steps) for epoch, _, _ in group}
    emit("phase", name="train", current=start_step, total=len(steps))
    if start_step == 0 and run.sample and run.spec.sample.at_start:
        run.sample(0, 0, "start")
    timer, losses, pending = StepTimer(), [], []
    every = loss_read_interval(run.device)
    with evaluation_weights(run.optimizer):
        if start_step == 0 and run.validator:
            run.validator.report(0, 0)  # the untrained baseline
        _check_cancel(run, steps[start_step - 1][-1][0] if start_step else 0, start_step)
    start_training(run.optimizer)  # a schedule-free state is saved in eval mode
    for step in range(start_step + 1, len(steps) + 1):
        group = steps[step - 1]
        loss = _queue_step(run, group, step)
        epoch, end = group[-1][0], time.perf_counter()
        lr = float(run.optimizer.param_groups[0]["lr"])
        pending.append(_Pending(step, epoch, loss, sum(len(b.images) for _, _, b in group), lr, end - timer.last, end))
        timer.last = end
        ended = sorted({e for e, _, _ in group if last_step_of_epoch[e] == step})
        if _read_point(run, step, start_step + 1, every, ended):
            losses += _read_losses(run, pending, timer)
        with evaluation_weights(run.optimizer):  # samples and saves use schedule-free's averaged weights
            if distributed.is_main():  # the other ranks wait while rank 0 writes
                _after_step(run, step, epoch, ended)
            distributed.barrier()
            if run.validator:
                run.validator.after_step(step, epoch, bool(ended))
            timer.reset_lap()
            if pending and cancel.requested():  # a SIGTERM during the step: report it before the state is saved
                losses += _read_losses(run, pending, timer)
            _check_cancel(run, epoch, step)
    final_epoch = len(run.spec.epochs)
    with evaluation_weights(run.optimizer):
        if distributed.is_main():
            run.saver.save_lora(run.network, "final", final_file(run.spec.output.name), final_epoch, len(steps))
        distributed.barrier()
    return losses

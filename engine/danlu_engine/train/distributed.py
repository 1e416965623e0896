"""Data parallelism over the processes that ``accelerate launch`` (or torchrun) starts.

The launcher sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; with WORLD_SIZE > 1 every
process runs the same spec. The split rule keeps a run the single-process run: optimizer step k still
covers the plan's micro-batches (k-1)*A .. k*A-1 (A = gradient_accumulation_steps), and rank r runs
those at positions r, r+N, r+2N, ... of the step (round-robin over N ranks). Every micro-batch's loss is
divided by the step's micro-batch count (as one process does) before backward, so the sum of the ranks'
gradients (all_reduce SUM) is exactly the single process's accumulated gradient, and the step's mean
loss is the sum of the ranks' partial sums divided by the same count. Noise and timesteps are seeded by
(seed, micro-batch index), so a micro-batch draws the same on any rank: total_steps, the images of each
step and the losses equal the single-process run (on the CPU, to rounding of the gradient sums).

Only rank 0 writes events (protocol.silence on the others: they share the launcher's stdout) and files;
the others wait at a barrier while it saves or samples. A cancel (SIGTERM reaches every rank) is agreed
by an all_reduce of the flag after each step, so all ranks stop at the same step.
"""
from __future__ import annotations

import datetime
import os
from collections.abc import Sequence

import torch

from .. import protocol

# Rank 0 alone samples and saves while the others wait at a barrier: allow for slow sampling.
BARRIER_TIMEOUT = datetime.timedelta(hours=2)

_world, _rank, _device = 1, 0, torch.device("cpu")


def setup(device_choice: str) -> None:
    """Join the process group when a launcher started several processes (no-op for one process)."""
    global _world, _rank, _device
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return
    _world, _rank = world, int(os.environ.get("RANK", "0"))
    use_cuda = device_choice != "cpu" and torch.cuda.is_available()
    if use_cuda:  # resolve_device then picks this process's GPU (torch.cuda.current_device())
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        _device = torch.device("cuda", torch.cuda.current_device())
    if _rank != 0:
        protocol.silence()
    backend = "nccl" if use_cuda else "gloo"
    torch.distributed.init_process_group(backend, init_method="env://", timeout=BARRIER_TIMEOUT)


def shutdown() -> None:
    if _world > 1 and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def world_size() -> int:
    return _world


def rank() -> int:
    return _rank


def is_main() -> bool:
    return _rank == 0


def share(micro_batches: Sequence) -> list:
    """This rank's micro-batches of one optimizer step (round-robin; a rank may get none)."""
    return list(micro_batches[_rank::_world])


def barrier() -> None:
    if _world > 1:
        torch.distributed.barrier()


def sum_across(value: torch.Tensor) -> torch.Tensor:
    """The sum of ``value`` over all ranks (``value`` itself for one process)."""
    if _world == 1:
        return value
    total = value.detach().to(_device, torch.float32).clone()
    torch.distributed.all_reduce(total)
    return total.to(value.device)


def any_across(flag: bool) -> bool:
    """True on every rank when any rank's flag is set (a cancel agreed by all)."""
    if _world == 1:
        return flag
    return bool(sum_across(torch.tensor(1.0 if flag else 0.0)).item() > 0)


def sum_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Replace each gradient by its sum over the ranks (one flat all_reduce per step).

    A parameter no rank has a gradient for stays without one, as in a single process (an optimizer
    skips it); one that some rank lacks (it ran no micro-batch) counts zeros there.
    """
    if _world == 1:
        return
    params = [p for p in params if p.requires_grad]
    has = sum_across(torch.tensor([float(p.grad is not None) for p in params]))
    live = [p for p, h in zip(params, has.tolist()) if h > 0]
    if not live:
        return
    for p in live:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1).to(_device, torch.float32) for p in live])
    torch.distributed.all_reduce(flat)
    offset = 0
    for p in live:
        n = p.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n

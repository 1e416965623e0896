"""Data parallelism over the processes that ``accelerate launch`` (or torchrun) starts.

The launcher sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. The spec is planned for
N = training.num_processes processes (a check at setup): an optimizer step covers N x A consecutive
micro-batches of an epoch (A = gradient_accumulation_steps), and rank r runs those at positions
r, r+N, r+2N, ... of the step. Every rank computes A micro-batches per step at the same time, so N GPUs take
N times the images per step: the global batch is N x A x batch size, as under sd-scripts' accelerate.

Gradients are averaged by torch's DistributedDataParallel (bucketed all-reduce overlapped with the backward
pass; gloo on the CPU, nccl on CUDA) over TrainingModule, the module that holds the LoRA's trainable
parameters. Each micro-batch's loss is divided by (micro-batches in the step / N) before backward, so DDP's
mean over the ranks is the step's mean gradient: what one process computes with gradient_accumulation_steps
N x A over the same micro-batches, in the same order (equal to rounding of the sums). Noise and timesteps are
seeded by (seed, micro-batch index), so a micro-batch draws the same on any rank. Only a rank's last
micro-batch of a step all-reduces (the others run under no_sync). A rank without a micro-batch in a step
(an epoch's last step may be short) backpropagates a zero loss through DDP, so every rank joins the
all-reduce. Pivotal tuning's token rows are not the network's (they sit in the text encoders' tables and
freeze at the pivot): one all_reduce of their own averages them.

Only rank 0 writes events (protocol.silence on the others: they share the launcher's stdout) and files;
the others wait at a barrier while it saves or samples. A cancel (SIGTERM reaches every rank) is agreed
by an all_reduce of the flag after each step, so all ranks stop at the same step.
"""
from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Sequence
from typing import cast

import torch

from .. import protocol
from ..protocol import EngineError

# Rank 0 alone samples and saves while the others wait at a barrier: allow for slow sampling.
BARRIER_TIMEOUT = datetime.timedelta(hours=2)

_world, _rank, _device = 1, 0, torch.device("cpu")


def setup(device_choice: str, planned: int = 1) -> None:
    """Join the process group when a launcher started several processes (no-op for one process).
    ``planned``: the processes the spec's plan was made for (its steps group that many micro-batches)."""
    global _world, _rank, _device
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if int(os.environ.get("RANK", "0")) != 0:
        protocol.silence()  # the launcher's stdout carries rank 0's events only (an error below included)
    if world != planned:
        raise EngineError(
            "BAD_SPEC",
            f"spec key training.num_processes: the plan is made for {planned} process(es) but {world} started",
            f"start it with `python -m danlu_engine.launch {planned} train SPEC.json`"
            if planned > 1 else "start it as one process (python -m danlu_engine train SPEC.json)",
        )
    if world <= 1:
        return
    _world, _rank = world, int(os.environ.get("RANK", "0"))
    use_cuda = device_choice != "cpu" and torch.cuda.is_available()
    if use_cuda:  # resolve_device then picks this process's GPU (torch.cuda.current_device())
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        _device = torch.device("cuda", torch.cuda.current_device())
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
    """This rank's micro-batches of one optimizer step (every N-th from its rank; may be none)."""
    return list(micro_batches[_rank::_world])


class TrainingModule(torch.nn.Module):
    """The trainable network and the loss that uses it, as one module: DDP's forward is the loss.

    ``loss_of`` (not a module) reaches the frozen UNet and text encoders, whose LoRA hooks use the network's
    parameters; those are the only parameters registered here, so DDP reduces exactly them.
    """

    def __init__(self, network: torch.nn.Module, loss_of: Callable):
        super().__init__()
        self.network = network
        self.loss_of = loss_of

    def forward(self, batch, index: int) -> torch.Tensor:
        if batch is None:  # no micro-batch for this rank in this step: zero gradients for the all-reduce
            total = sum(p.sum() for p in self.network.parameters() if p.requires_grad)
            return cast(torch.Tensor, total) * 0.0  # a tensor: the network has trainable parameters
        return self.loss_of(batch, index)


def wrap(network: torch.nn.Module, loss_of: Callable, find_unused: bool) -> Callable:
    """The loss as DDP runs it (several processes), or ``loss_of`` itself (one process).

    ``find_unused``: some parameters may get no gradient in a step (module_dropout skips whole modules);
    DDP then looks for them after each forward, a walk over the autograd graph.
    """
    if _world == 1:
        return loss_of
    return torch.nn.parallel.DistributedDataParallel(
        TrainingModule(network, loss_of),
        device_ids=None,  # the module is on this rank's device already; inputs are plan entries, not tensors
        broadcast_buffers=False,  # the network's buffers (alphas) never change
        find_unused_parameters=find_unused,
    )


def no_sync(model: Callable, last: bool):
    """Within a step, a micro-batch before this rank's last one accumulates without the all-reduce."""
    if last or not isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()


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


def average_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Replace each gradient by its mean over the ranks (one flat all_reduce), for parameters outside DDP.

    A parameter no rank has a gradient for stays without one, as in a single process (an optimizer
    skips it); one that some rank lacks (it ran no micro-batch) counts zeros there.
    """
    if _world == 1:
        return
    params = [p for p in params if p.requires_grad]
    has = sum_across(torch.tensor([float(p.grad is not None) for p in params]))
    live = [p for p, h in zip(params, has.tolist(), strict=True) if h > 0]
    if not live:
        return
    grads = []
    for p in live:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        grads.append(p.grad)
    flat = torch.cat([g.reshape(-1).to(_device, torch.float32) for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= _world
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n

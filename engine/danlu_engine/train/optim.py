"""Learning-rate schedules with warmup (optimizers: optimizers.py), from diffusers.optimization.

Every curve is diffusers' get_scheduler's own multiplier (which sd-scripts uses): a linear warmup over
``warmup_steps`` optimizer steps (the spec holds steps; the TypeScript side turned a ratio into steps), then
the named decay over the remaining steps. One multiplier per param group: diffusers' polynomial reads
its start lr from ``optimizer.defaults``, which is not the groups' lrs here, so each group's multiplier is
taken from get_scheduler on a one-parameter optimizer at that group's lr. Each multiplier is a pure
function of the step, so a resumed run (LambdaLR restores its step count) continues the same curve: a
cosine_with_restarts run resumed past a restart goes on with the next cycle instead of starting over.
``constant`` with a warmup is constant_with_warmup (diffusers' constant ignores the warmup). ``adafactor``
(sd-scripts' ``adafactor:<lr>``) reports the lr that Adafactor's relative step computes itself.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..protocol import EngineError
from ..spec import OptimizerSpec, SchedulerSpec
from .optimizers import adafactor_relative_step, build_optimizer  # noqa: F401 - build_optimizer re-exported

POLYNOMIAL_LR_END = 1e-7  # diffusers' default end lr for polynomial (absolute, not a ratio), which sd-scripts keeps
SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial")


def lr_factor(spec: SchedulerSpec, total_steps: int, base_lr: float | None = None) -> Callable[[int], float]:
    """diffusers' multiplier on a group's base lr for the optimizer step about to be taken (0-based).
    ``base_lr`` matters for polynomial only: it decays to POLYNOMIAL_LR_END, not to 0 (when base_lr > that end)."""
    from diffusers.optimization import get_polynomial_decay_schedule_with_warmup, get_scheduler

    kind = spec.type
    if kind not in SCHEDULES:
        raise EngineError("BAD_SPEC", f"spec key scheduler.type: unknown scheduler {kind}")
    if kind == "constant" and spec.warmup_steps:
        kind = "constant_with_warmup"
    warmup = spec.warmup_steps
    if kind == "polynomial":  # get_scheduler cannot pass lr_end, and diffusers needs start lr > end lr
        start = base_lr if base_lr and base_lr > POLYNOMIAL_LR_END else None  # None: decay 1.0 to 0
        probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0 if start is None else start)
        scheduler = get_polynomial_decay_schedule_with_warmup(
            probe, num_warmup_steps=warmup, num_training_steps=total_steps,
            lr_end=0.0 if start is None else POLYNOMIAL_LR_END, power=spec.power)
    else:
        probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        scheduler = get_scheduler(kind, probe, num_warmup_steps=warmup, num_training_steps=total_steps,
                                  num_cycles=spec.num_cycles)
    return scheduler.lr_lambdas[0]


def build_scheduler(
    spec: SchedulerSpec, optimizer: torch.optim.Optimizer, total_steps: int, optimizer_spec: OptimizerSpec
) -> torch.optim.lr_scheduler.LambdaLR:
    relative = adafactor_relative_step(optimizer_spec)
    if (spec.type == "adafactor") != relative:
        raise EngineError(
            "BAD_SPEC",
            f"spec key scheduler.type: {spec.type} with optimizer {optimizer_spec.type}; the adafactor schedule "
            "goes with (and only with) Adafactor's relative step",
        )
    if relative:
        from transformers.optimization import AdafactorSchedule

        # initial_lr: what the progress line shows before Adafactor's first step (sd-scripts: adafactor:<lr>)
        return AdafactorSchedule(optimizer, optimizer_spec.unet_lr)
    factors = [lr_factor(spec, total_steps, group["lr"]) for group in optimizer.param_groups]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)

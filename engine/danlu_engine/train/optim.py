"""Learning-rate schedules with warmup (optimizers: optimizers.py).

Schedules follow the shapes of diffusers' get_scheduler (which sd-scripts uses): a linear warmup over
``warmup_steps`` optimizer steps, then the named decay over the remaining steps. Each multiplier is a pure
function of the step, so a resumed run (LambdaLR restores its step count) continues the same curve: a
cosine_with_restarts run resumed past a restart goes on with the next cycle instead of starting over, and
reaches its last cycle's low point only at the run's end. ``adafactor`` (sd-scripts' ``adafactor:<lr>``)
reports the lr that Adafactor's relative step computes itself.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..protocol import EngineError
from ..spec import OptimizerSpec, SchedulerSpec
from .optimizers import adafactor_relative_step, build_optimizer  # noqa: F401 - build_optimizer re-exported


def _warmup_then(decay: Callable[[float], float], warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return step / warmup  # diffusers' warmup: the first step runs at lr 0
        progress = (step - warmup) / max(1, total - warmup)
        return decay(min(1.0, progress))

    return factor


POLYNOMIAL_LR_END = 1e-7  # diffusers' default end lr for polynomial (absolute, not a ratio), which sd-scripts keeps


def lr_factor(spec: SchedulerSpec, total_steps: int, base_lr: float | None = None) -> Callable[[int], float]:
    """Multiplier on a group's base lr for the optimizer step about to be taken (0-based). ``base_lr``
    matters for polynomial only: it decays to POLYNOMIAL_LR_END, not to 0 (when base_lr > that end)."""
    kind = spec.type
    if kind in ("constant", "constant_with_warmup"):
        decay = lambda p: 1.0  # noqa: E731
    elif kind == "linear":
        decay = lambda p: 1.0 - p  # noqa: E731
    elif kind == "cosine":
        decay = lambda p: 0.5 * (1.0 + math.cos(math.pi * p))  # noqa: E731
    elif kind == "cosine_with_restarts":
        cycles = spec.num_cycles
        decay = lambda p: 0.0 if p >= 1.0 else 0.5 * (1.0 + math.cos(math.pi * ((cycles * p) % 1.0)))  # noqa: E731
    elif kind == "polynomial":
        power = spec.power
        end = POLYNOMIAL_LR_END / base_lr if base_lr and base_lr > POLYNOMIAL_LR_END else 0.0
        decay = lambda p: (1.0 - end) * (1.0 - p) ** power + end  # noqa: E731
    else:
        raise EngineError("BAD_SPEC", f"spec key scheduler.type: unknown scheduler {kind}")
    return _warmup_then(decay, spec.warmup_steps, total_steps)


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

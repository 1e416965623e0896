"""Optimizers (AdamW, AdamW8bit) and learning-rate schedules with warmup.

Schedules follow the shapes of diffusers' get_scheduler (which sd-scripts uses): a linear warmup over
``warmup_steps`` optimizer steps, then the named decay over the remaining steps.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..protocol import EngineError
from ..spec import OptimizerSpec, SchedulerSpec


def build_optimizer(spec: OptimizerSpec, param_groups: list[dict], device: torch.device) -> torch.optim.Optimizer:
    groups = [{k: v for k, v in g.items() if k != "name"} for g in param_groups]
    kwargs = dict(betas=tuple(spec.betas), eps=spec.eps, weight_decay=spec.weight_decay)
    if spec.type == "AdamW":
        # fused: one kernel for all parameters on CUDA (no per-tensor launches, no host syncs).
        return torch.optim.AdamW(groups, **kwargs, fused=device.type == "cuda")
    return _adamw_8bit(groups, kwargs, device)


def _adamw_8bit(groups: list[dict], kwargs: dict, device: torch.device) -> torch.optim.Optimizer:
    try:
        import bitsandbytes as bnb

        optimizer = bnb.optim.AdamW8bit(groups, **kwargs)
        _probe_8bit(bnb, device)
    except Exception as e:  # noqa: BLE001 - any failure of the library on this device means "unavailable"
        raise EngineError(
            "OPTIMIZER_UNAVAILABLE",
            f"AdamW8bit (bitsandbytes) cannot run on {device.type}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
            "use optimizer AdamW instead (same algorithm, 32-bit state: about 2x the optimizer memory)",
        ) from e
    return optimizer


def _probe_8bit(bnb, device: torch.device) -> None:
    """One step on a throwaway parameter large enough for 8-bit state, so a broken backend fails now."""
    p = torch.nn.Parameter(torch.zeros(4096, device=device))
    p.grad = torch.ones_like(p)
    bnb.optim.AdamW8bit([p], lr=1e-3).step()


def _warmup_then(decay: Callable[[float], float], warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return step / warmup  # diffusers' warmup: the first step runs at lr 0
        progress = (step - warmup) / max(1, total - warmup)
        return decay(min(1.0, progress))

    return factor


def lr_factor(spec: SchedulerSpec, total_steps: int) -> Callable[[int], float]:
    """Multiplier on each group's base lr for the optimizer step about to be taken (0-based)."""
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
        decay = lambda p: (1.0 - p) ** power  # noqa: E731
    else:
        raise EngineError("BAD_SPEC", f"spec key scheduler.type: unknown scheduler {kind}")
    return _warmup_then(decay, spec.warmup_steps, total_steps)


def build_scheduler(
    spec: SchedulerSpec, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(spec, total_steps))

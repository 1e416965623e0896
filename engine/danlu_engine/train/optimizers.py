"""Optimizer construction: every optimizer danlu offers, with the keyword arguments each accepts.

``spec.optimizer.args`` holds the optimizer_args the person gave (TypeScript checked the names and
values per optimizer); anything not given keeps the package's own default, as in sd-scripts. AdamW and
AdamW8bit take weight_decay/betas/eps from the spec's own fields (danlu's defaults there).
Prodigy and DAdaptAdam estimate the step size themselves: their lr is a multiplier (1.0 by default).
Lion is lion_pytorch's (the package sd-scripts imports), Lion8bit bitsandbytes'.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Protocol, TypeGuard

import torch

from ..protocol import EngineError
from ..spec import OptimizerSpec

# Constructor keywords each optimizer accepts from optimizer_args (mirrors src/config/optimizer-args.ts).
ACCEPTED_ARGS: dict[str, tuple[str, ...]] = {
    "AdamW": ("weight_decay", "betas", "eps"),
    "AdamW8bit": ("weight_decay", "betas", "eps"),
    "Lion": ("weight_decay", "betas"),
    "Lion8bit": ("weight_decay", "betas"),
    "Prodigy": ("weight_decay", "betas", "beta3", "eps", "decouple", "use_bias_correction", "safeguard_warmup",
                "d0", "d_coef", "growth_rate", "slice_p"),
    "Adafactor": ("eps", "clip_threshold", "decay_rate", "beta1", "weight_decay", "scale_parameter",
                  "relative_step", "warmup_init"),
    "DAdaptAdam": ("weight_decay", "betas", "eps", "decouple", "use_bias_correction", "d0", "growth_rate"),
    "AdamWScheduleFree": ("weight_decay", "betas", "eps", "warmup_steps", "r", "weight_lr_power"),
}

TUPLE_ARGS = {"betas", "eps"}  # JSON lists that the packages expect as tuples (Adafactor's eps is a pair)


def optimizer_kwargs(spec: OptimizerSpec) -> dict:
    """The keyword arguments for the optimizer's constructor (lr excepted); BAD_SPEC for an unknown one."""
    accepted = ACCEPTED_ARGS[spec.type]
    for key in spec.args:
        if key not in accepted:
            raise EngineError("BAD_SPEC", f"spec key optimizer.args.{key}: {spec.type} does not accept {key} "
                                          f"(accepted: {', '.join(accepted)})")
    kwargs = {k: tuple(v) if k in TUPLE_ARGS and isinstance(v, list) else v for k, v in spec.args.items()}
    if spec.type in ("AdamW", "AdamW8bit"):
        kwargs = {"betas": tuple(spec.betas), "eps": spec.eps, "weight_decay": spec.weight_decay, **kwargs}
    if spec.type == "Adafactor":
        # sd-scripts' rule: warmup_init needs the relative step, and the relative step is the default.
        kwargs["relative_step"] = bool(kwargs.get("relative_step", True) or kwargs.get("warmup_init", False))
    return kwargs


def adafactor_relative_step(spec: OptimizerSpec) -> bool:
    return spec.type == "Adafactor" and optimizer_kwargs(spec)["relative_step"]


def build_optimizer(spec: OptimizerSpec, param_groups: list[dict], device: torch.device) -> torch.optim.Optimizer:
    groups = [{k: v for k, v in g.items() if k != "name"} for g in param_groups]
    # Prodigy and DAdaptAdam print() a notice; stdout carries only protocol events, so send it to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        return _construct(spec, groups, optimizer_kwargs(spec), device)


def _construct(spec: OptimizerSpec, groups: list[dict], kwargs: dict, device: torch.device) -> torch.optim.Optimizer:
    kind = spec.type
    if kind == "AdamW":
        # fused: one kernel for all parameters on CUDA (no per-tensor launches, no host syncs). On the CPU
        # torch's default is a loop over the tensors; foreach (grouped tensor ops) was 1.16x the steps/s
        # there (BENCHMARKS.md "Step options on and off", bench/train/step_options.py).
        if device.type == "cuda":
            return torch.optim.AdamW(groups, **kwargs, fused=True)
        return torch.optim.AdamW(groups, **kwargs, foreach=True)
    if kind == "Lion":
        from lion_pytorch import Lion

        return Lion(groups, **kwargs)
    if kind in ("AdamW8bit", "Lion8bit"):
        return _bitsandbytes(kind, groups, kwargs, device)
    if kind == "Adafactor":
        from transformers.optimization import Adafactor

        if kwargs["relative_step"]:  # Adafactor computes its own lr: the groups' lrs must be unset
            groups = [{k: v for k, v in g.items() if k != "lr"} for g in groups]
            return Adafactor(groups, lr=None, **kwargs)
        return Adafactor(groups, lr=spec.unet_lr, **kwargs)
    if kind == "Prodigy":
        from prodigyopt import Prodigy

        return Prodigy(groups, **kwargs)
    if kind == "DAdaptAdam":
        from dadaptation import DAdaptAdam

        return DAdaptAdam(groups, **kwargs)
    if kind == "AdamWScheduleFree":
        from schedulefree import AdamWScheduleFree

        optimizer = AdamWScheduleFree(groups, **kwargs)
        optimizer.train()  # schedule-free steps only in train mode; eval mode holds the averaged weights
        return optimizer
    raise EngineError("BAD_SPEC", f"spec key optimizer.type: unknown optimizer {kind}")


def _bitsandbytes(kind: str, groups: list[dict], kwargs: dict, device: torch.device) -> torch.optim.Optimizer:
    fallback = kind.removesuffix("8bit")
    try:
        import bitsandbytes as bnb

        cls = getattr(bnb.optim, kind)
        optimizer = cls(groups, **kwargs)
        _probe_8bit(cls, device)
    except Exception as e:  # noqa: BLE001 - any failure of the library on this device means "unavailable"
        first_line = str(e).splitlines()[0] if str(e) else ""
        raise EngineError(
            "OPTIMIZER_UNAVAILABLE",
            f"{kind} (bitsandbytes) cannot run on {device.type}: {type(e).__name__}: {first_line}",
            f"use optimizer {fallback} instead (same algorithm, 32-bit state: more optimizer memory)",
        ) from e
    return optimizer


def _probe_8bit(cls, device: torch.device) -> None:
    """One step on a throwaway parameter large enough for 8-bit state, so a broken backend fails now."""
    p = torch.nn.Parameter(torch.zeros(4096, device=device))
    p.grad = torch.ones_like(p)
    cls([p], lr=1e-3).step()


class ScheduleFree(Protocol):
    """What schedulefree's optimizers add to torch.optim.Optimizer: switching between the two weight sets."""

    def train(self) -> None: ...

    def eval(self) -> None: ...


def is_schedule_free(optimizer: torch.optim.Optimizer) -> TypeGuard[ScheduleFree]:
    return bool(optimizer.param_groups) and "train_mode" in optimizer.param_groups[0]


def start_training(optimizer: torch.optim.Optimizer) -> None:
    """Put a schedule-free optimizer in train mode (a fresh one, or one restored from a state)."""
    if is_schedule_free(optimizer):
        optimizer.train()


@contextlib.contextmanager
def evaluation_weights(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Schedule-free optimizers train on an interpolated point and keep the averaged weights apart: samples,
    saved files and states use the averaged weights (eval mode), training continues in train mode.
    Other optimizers: nothing to do."""
    if not is_schedule_free(optimizer):
        yield
        return
    optimizer.eval()
    try:
        yield
    finally:
        optimizer.train()

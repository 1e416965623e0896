"""Several jobs' LoRAs on one base model at once (train-many): each sample goes through its own job's adapter.

Every job keeps its own ordinary ``LoRANetwork`` (built exactly as a solo run builds it, never hooked in), so
its optimizer, state and file are a solo run's. ``SharedLoRA`` hooks each target layer once and, for a
micro-batch that concatenates the samples of several jobs (each job's samples contiguous, ``route``), adds
to the base output each job's change on that job's samples:

- one job in the forward: that job's module's own ``change`` (the solo run's operations, bit for bit);
- several jobs, plain LoRA on a Linear or a 1x1 Conv2d: two batched matmuls (``torch.bmm``) over the jobs'
  stacked down/up weights, grouped by job when the jobs' sample counts are equal, else gathered per sample
  (``index_select``): no Python loop over samples or jobs;
- anything else (LoCon k x k, DoRA, Tucker, LyCORIS kinds), or ``mode="loop"``: each job's own ``change``
  on its slice, a loop over the jobs in the forward (at most ``slots``), kept as the reference path.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .adapter import Adapter, Layer
from .lora import LoRAModule, LoRANetwork

MODES = ("bmm", "loop")


@dataclass(frozen=True)
class Segment:
    slot: int
    start: int  # first sample of the job in the concatenated micro-batch
    stop: int


def _bmm_ready(module: Adapter) -> bool:
    """A plain LoRA module whose change is two matmuls (Linear, or a stride-1 1x1 Conv2d)."""
    if not isinstance(module, LoRAModule) or module.tucker or module.decompose is not None:
        return False
    if module.dropout or module.rank_dropout or module.module_dropout:
        return False
    base = module.base
    return not isinstance(base, nn.Conv2d) or (base.kernel_size == (1, 1) and base.stride == (1, 1)
                                                and base.padding in ((0, 0), "valid") and base.groups == 1)


class SharedLayer:
    """One hooked base layer and the modules of every slot on it (None: a free slot)."""

    def __init__(self, base: Layer, slots: int, shared: SharedLoRA):
        self.base, self.shared = base, shared
        self.modules: list[Adapter | None] = [None] * slots
        self.base_forward: Callable[[torch.Tensor], torch.Tensor] = base.forward
        hooked: nn.Module = base  # forward replaced on the instance, as Adapter.apply_to_base does
        hooked.forward = self.forward

    def remove(self) -> None:
        hooked: nn.Module = self.base
        hooked.forward = self.base_forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_forward(x)
        route = self.shared.route
        parts = [(s, self.modules[s.slot]) for s in route]
        first = next(m for _, m in parts if m is not None)
        if not torch.is_autocast_enabled(x.device.type):
            x = x.to(next(first.parameters()).dtype)  # base in half precision, adapters in float32 (as Adapter.forward)
        if len(parts) == 1:
            module = parts[0][1]
            assert module is not None
            return out + module.change(x, out).to(out.dtype)
        if self.shared.mode == "bmm" and all(m is not None and _bmm_ready(m) for _, m in parts):
            return out + _bmm_change(x, [(s, m) for s, m in parts if isinstance(m, LoRAModule)]).to(out.dtype)
        changes = [m.change(x[s.start:s.stop], out[s.start:s.stop]) for s, m in parts if m is not None]
        return out + torch.cat(changes).to(out.dtype)


def _bmm_change(x: torch.Tensor, parts: list[tuple[Segment, LoRAModule]]) -> torch.Tensor:
    """up_j(down_j(x_i)) * scale_j for every sample i of job j, as batched matmuls."""
    conv = x.dim() == 4
    downs = torch.stack([m.lora_down.weight.reshape(m.dim, -1) for _, m in parts])  # [J, r, in]
    ups = torch.stack([m.lora_up.weight.reshape(m.lora_up.weight.shape[0], -1) for _, m in parts])  # [J, out, r]
    scales = torch.tensor([m.multiplier * m.scale for _, m in parts], device=x.device, dtype=x.dtype)
    sizes = [s.stop - s.start for s, _ in parts]
    batch = x.shape[0]
    # rows: [batch, N, in] (Linear: N tokens) or [batch, in, N] (1x1 conv: N pixels)
    rows = x.flatten(2) if conv else x.reshape(batch, -1, x.shape[-1])
    if len(set(sizes)) == 1:  # grouped: each job's samples side by side, one matmul per job in one bmm
        g, per = len(parts), sizes[0]
        if conv:
            grouped = rows.reshape(g, per, *rows.shape[1:]).transpose(1, 2).reshape(g, rows.shape[1], -1)
            y = torch.bmm(ups.to(x.dtype), torch.bmm(downs.to(x.dtype), grouped)) * scales.view(g, 1, 1)
            y = y.reshape(g, -1, per, rows.shape[2]).transpose(1, 2)
        else:
            grouped = rows.reshape(g, per * rows.shape[1], rows.shape[2])
            y = torch.bmm(torch.bmm(grouped, downs.to(x.dtype).transpose(1, 2)), ups.to(x.dtype).transpose(1, 2))
            y = y * scales.view(g, 1, 1)
        return y.reshape(batch, *x.shape[1:-1], -1) if not conv else y.reshape(batch, -1, *x.shape[2:])
    job_of_row = torch.repeat_interleave(torch.arange(len(parts), device=x.device),
                                         torch.tensor(sizes, device=x.device))
    d, u = downs.index_select(0, job_of_row).to(x.dtype), ups.index_select(0, job_of_row).to(x.dtype)
    s = scales.index_select(0, job_of_row).view(-1, 1, 1)
    if conv:
        return (torch.bmm(u, torch.bmm(d, rows)) * s).reshape(batch, -1, *x.shape[2:])
    y = torch.bmm(torch.bmm(rows, d.transpose(1, 2)), u.transpose(1, 2)) * s
    return y.reshape(*x.shape[:-1], -1)


class SharedLoRA:
    """The hooks of a train-many run: ``slots`` places for job networks on the same targets."""

    def __init__(self, slots: int, mode: str = "bmm"):
        if mode not in MODES:
            raise ValueError(f"unknown train-many mode {mode!r} (expected one of {', '.join(MODES)})")
        self.slots, self.mode = slots, mode
        self.layers: dict[str, SharedLayer] = {}
        self.networks: list[LoRANetwork | None] = [None] * slots
        self.route: list[Segment] = []

    def free_slot(self) -> int | None:
        return next((i for i, n in enumerate(self.networks) if n is None), None)

    def join(self, network: LoRANetwork) -> int:
        """Put a job's network into a free slot (its targets must be the other jobs')."""
        slot = self.free_slot()
        if slot is None:
            raise ValueError("no free slot")
        adapters = {a.lora_name: a for a in network.all_loras()}
        if self.layers and set(adapters) != set(self.layers):
            raise ValueError("the job's network has other target layers than the running jobs'")
        for name, adapter in adapters.items():
            if name not in self.layers:
                self.layers[name] = SharedLayer(adapter.base, self.slots, self)
            self.layers[name].modules[slot] = adapter
        self.networks[slot] = network
        return slot

    def leave(self, slot: int) -> None:
        for layer in self.layers.values():
            layer.modules[slot] = None
        self.networks[slot] = None

    def remove(self) -> None:
        for layer in self.layers.values():
            layer.remove()
        self.layers.clear()

    def set_route(self, sizes: list[tuple[int, int]]) -> None:
        """(slot, samples) of each job in the next forward, in concatenation order."""
        route, start = [], 0
        for slot, n in sizes:
            route.append(Segment(slot, start, start + n))
            start += n
        self.route = route

"""Base models kept between the jobs of one ``python -m danlu_engine serve`` process (an LRU by memory).

Only the serve loop turns the cache on (``activate``); one-shot commands load their model as before.
A job borrows a model through ``base_model(...)`` (a context manager yielding a Lease). On return the
model is put back as load_base_model hands it over (adapters unhooked through the lease's undo
actions, gradient checkpointing off, eval(), requires_grad False) and checked; a model a job changed
for good (``lease.taint``: pivotal tuning's and embeddings' new tokens, a LoRA merge that failed) is
dropped. Weights cast to half precision cannot be cast back exactly, so a model is reused only by a
job that wants each part in float32 or in the dtype it already has; otherwise it is loaded again.
"""
from __future__ import annotations

import contextlib
import gc
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from ..protocol import emit

if TYPE_CHECKING:
    from .loader import BaseModel

PARTS = ("unet", "vae", "text_encoders")
CPU_DEFAULT_FRACTION = 0.5  # of the machine's memory, when there is no GPU
GPU_DEFAULT_FRACTION = 0.8  # of the GPU's memory


@dataclass
class Lease:
    """One job's use of a base model: what to undo when it ends, and whether it may be kept."""

    model: BaseModel
    hit: bool
    undo: list[Callable[[], None]] = field(default_factory=list)
    tainted: str | None = None  # why the model cannot be reused

    def taint(self, reason: str) -> None:
        self.tainted = self.tainted or reason


@dataclass
class _Entry:
    key: tuple
    model: BaseModel
    bytes: int


def model_key(path: str, arch: str | None, v_prediction: bool | None, vae_path: str | None) -> tuple:
    """What makes two loads the same: the files (path, size, mtime of each) and the load options."""
    return (_file_identity(path), arch, v_prediction, _file_identity(vae_path) if vae_path else None)


def _file_identity(path: str) -> tuple:
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        stat = os.stat(path)
        return (path, stat.st_size, stat.st_mtime_ns)
    files = []
    for root, _dirs, names in os.walk(path):
        for name in sorted(names):
            stat = os.stat(os.path.join(root, name))
            files.append((os.path.relpath(os.path.join(root, name), path), stat.st_size, stat.st_mtime_ns))
    return (path, tuple(sorted(files)))


def _disk_bytes(identity: tuple) -> int:
    return identity[1] if isinstance(identity[1], int) else sum(size for _name, size, _mtime in identity[1])


def _modules(model) -> dict[str, list[torch.nn.Module]]:
    return {"unet": [model.unet], "vae": [model.vae], "text_encoders": list(model.text_encoders)}


def model_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for ms in _modules(model).values() for m in ms for p in m.parameters())


def default_budget_bytes() -> int:
    if torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory * GPU_DEFAULT_FRACTION)
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return int(pages * page_size * CPU_DEFAULT_FRACTION)


class WarmCache:
    def __init__(self, budget_bytes: int):
        if budget_bytes < 0:
            raise ValueError(f"memory budget must be >= 0 bytes, got {budget_bytes}")
        self.budget_bytes = budget_bytes
        self.entries: OrderedDict[tuple, _Entry] = OrderedDict()  # least recently used first
        self.in_use: tuple | None = None

    @property
    def used_bytes(self) -> int:
        return sum(e.bytes for e in self.entries.values())

    def take(self, key: tuple, dtypes: dict[str, torch.dtype], load: Callable[[], BaseModel]) -> Lease:
        """The cached model for key when its weights can serve ``dtypes`` (part -> dtype), else a new load."""
        if self.in_use is not None:
            raise RuntimeError("the warm cache lends one model at a time")
        entry = self.entries.get(key)
        if entry is not None and not _dtypes_fit(entry.model, dtypes):
            self.drop(key)  # cast to half precision for an earlier job: float32 cannot be restored
            entry = None
        hit = entry is not None
        self._park_others(key)
        if entry is None:
            self._make_room(_disk_bytes(key[0]))
            model = load()
            entry = _Entry(key, model, model_bytes(model))
            self.entries[key] = entry
        else:
            self.entries.move_to_end(key)
        self.in_use = key
        return Lease(entry.model, hit=hit)

    def give_back(self, lease: Lease) -> None:
        """After a job: undo its changes, check the model, keep it (LRU within budget) or drop it."""
        key, self.in_use = self.in_use, None
        if key is None or key not in self.entries:
            return
        reason = lease.tainted
        try:
            for action in reversed(lease.undo):
                action()
            restore(lease.model)
            reason = reason or unclean_reason(lease.model)
        except Exception as e:  # noqa: BLE001 - a model that cannot be restored is dropped, never reused
            reason = f"restoring it failed: {type(e).__name__}: {e}"
        if reason:
            emit("log", level="info", message=f"warm engine: base model dropped from the cache ({reason})")
            self.drop(key)
        else:
            entry = self.entries[key]
            entry.bytes = model_bytes(entry.model)
            self._make_room(0)
        release_memory()

    def drop(self, key: tuple) -> None:
        self.entries.pop(key, None)
        gc.collect()

    def _make_room(self, incoming: int) -> None:
        """Drop least recently used models (not the one lent) until they and ``incoming`` bytes fit."""
        for key in list(self.entries):
            if self.used_bytes + incoming <= self.budget_bytes:
                break
            if key != self.in_use:
                self.drop(key)

    def _park_others(self, key: tuple) -> None:
        """Idle models wait in host memory, so the GPU holds only the model of the running job."""
        for other, entry in self.entries.items():
            if other != key:
                for modules in _modules(entry.model).values():
                    for module in modules:
                        module.to("cpu")


def _dtypes_fit(model, dtypes: dict[str, torch.dtype]) -> bool:
    for part, modules in _modules(model).items():
        for module in modules:
            have = {p.dtype for p in module.parameters()}
            if have - {torch.float32, dtypes[part]}:
                return False
    return True


def restore(model) -> None:
    """The state load_base_model hands over, except dtype and device (each job places the model)."""
    if model.unet.is_gradient_checkpointing:
        model.unet.disable_gradient_checkpointing()
    for encoder in model.text_encoders:
        # transformers 5 renamed gradient to activation checkpointing (the old names warn)
        if getattr(encoder, "is_activation_checkpointing", None) is not None:
            if encoder.is_activation_checkpointing:
                encoder.activation_checkpointing_disable()
        elif encoder.is_gradient_checkpointing:
            encoder.gradient_checkpointing_disable()
    for modules in _modules(model).values():
        for module in modules:
            module.eval()
            module.requires_grad_(False)
            for sub in module.modules():
                _unset_own_forward(sub)


def _unset_own_forward(module: torch.nn.Module) -> None:
    """An unhooked adapter leaves the layer's own bound forward on the instance: the class's, so drop it."""
    bound = module.__dict__.get("forward")
    if getattr(bound, "__self__", None) is module and getattr(bound, "__func__", None) is type(module).forward:
        del module.__dict__["forward"]


def unclean_reason(model) -> str | None:
    """Why the model is not as loaded (None when it is): a hooked forward or a trainable weight."""
    for part, modules in _modules(model).items():
        for module in modules:
            for name, sub in module.named_modules():
                if "forward" in sub.__dict__:
                    return f"{part} module {name or '(root)'} still has a replaced forward"
            if any(p.requires_grad for p in module.parameters()):
                return f"{part} has trainable weights"
            if any(b is not None and b.requires_grad for b in module.buffers()):
                return f"{part} has a trainable buffer"
    return None


def release_memory() -> None:
    """Between jobs: free what the last job left (optimizer, activations, caches) back to the device."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


_active: WarmCache | None = None


def activate(cache: WarmCache | None) -> None:
    global _active
    _active = cache


def active() -> WarmCache | None:
    return _active


@contextlib.contextmanager
def base_model(path: str, arch: str | None, v_prediction: bool | None, vae_path: str | None,
               dtypes: dict[str, torch.dtype], inpainting_ok: bool = False) -> Iterator[Lease]:
    """The job's base model: loaded (one-shot mode) or borrowed from the warm cache (serve mode)."""
    from .loader import load_base_model

    def load():
        return load_base_model(path, arch, v_prediction, vae_path, inpainting_ok=inpainting_ok)

    cache = _active
    if cache is None:
        yield Lease(load(), hit=False)
        return
    started = time.perf_counter()
    lease = cache.take(model_key(path, arch, v_prediction, vae_path), dtypes, load)
    try:
        if not inpainting_ok and lease.model.unet.config["in_channels"] == 9:
            lease.taint("an inpainting checkpoint")
            load()  # raises the loader's own error for a model that only inpaints
        emit("model_cache", hit=lease.hit, path=os.path.abspath(path), load_s=time.perf_counter() - started,
             models=len(cache.entries), memory_mb=cache.used_bytes / 2**20)
        yield lease
    finally:
        cache.give_back(lease)

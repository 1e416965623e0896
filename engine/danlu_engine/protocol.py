"""The engine protocol: one JSON object per line on stdout, each with an ``event`` field.

src/engine/protocol.ts holds the same events as zod schemas; ``python -m danlu_engine protocol``
prints EVENTS as JSON and a TypeScript test compares the two, so they cannot drift apart.
Nothing else may be written to stdout (use stderr or a ``log`` event).
"""
from __future__ import annotations

import json
import math
import sys
import threading
from typing import Any

ERROR_CODES = (
    "OUT_OF_MEMORY",
    "NAN_LOSS",
    "FILE_NOT_FOUND",
    "BAD_MODEL",
    "UNSUPPORTED_ARCH",
    "BAD_SPEC",
    "BAD_IMAGE",
    "OPTIMIZER_UNAVAILABLE",
    "DEVICE_UNAVAILABLE",
    "RESUME_MISMATCH",
    "BAD_LORA",
    "INTERNAL",
)
PHASES = ("load_model", "cache_latents", "cache_text", "train", "sample", "save")

# event -> {field: type}; types: "str", "int", "float", "bool", "dict", "list[str]", "str?" (nullable),
# "int?", "float?", and "enum:a|b|c".
EVENTS: dict[str, dict[str, str]] = {
    "ready": {"engine_version": "str", "torch_version": "str", "device": "str", "dtype": "str", "pid": "int"},
    "phase": {"name": "enum:" + "|".join(PHASES), "current": "int?", "total": "int?"},
    "progress": {
        "step": "int",
        "total_steps": "int",
        "epoch": "int",
        "loss": "float",
        "lr": "float",
        "it_per_s": "float",
        "images_per_s": "float",
        "memory_mb": "float?",
        "elapsed_s": "float",
    },
    "log": {"level": "enum:debug|info|warning|error", "message": "str"},
    "checkpoint": {"kind": "enum:epoch|step|final|state", "path": "str", "epoch": "int", "step": "int"},
    "sample": {"path": "str", "prompt_index": "int", "epoch": "int", "step": "int"},
    "validation": {"step": "int", "epoch": "int", "loss": "float", "images": "int"},
    "result": {"data": "dict"},
    "job": {"id": "str", "data": "dict"},  # train-many: one job's event (any other kind) inside
    "done": {"outputs": "list[str]", "steps": "int", "elapsed_s": "float"},
    "cancelled": {"state_dir": "str?", "step": "int"},
    "error": {"code": "enum:" + "|".join(ERROR_CODES), "message": "str", "detail": "str?"},
    # serve mode only (danlu_engine/serve.py): the base model came from the warm cache or was loaded
    "model_cache": {"hit": "bool", "path": "str", "load_s": "float", "models": "int", "memory_mb": "float"},
    # serve mode only: ready for the next request (first at start, exit_code null; then after every job)
    "idle": {"exit_code": "int?", "models": "int", "memory_mb": "float", "budget_mb": "float", "pid": "int"},
}

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 3

_lock = threading.Lock()
_stdout = sys.stdout
_silent = False  # ranks > 0 of a multi-process run: they share rank 0's stdout (train/distributed.py)


def silence() -> None:
    """Write no events from this process (checked, then dropped)."""
    global _silent
    _silent = True


def _check(kind: str, fields: dict[str, Any]) -> None:
    schema = EVENTS[kind]
    if set(fields) != set(schema):
        raise ValueError(f"event {kind}: fields {sorted(fields)} != {sorted(schema)}")
    for name, typ in schema.items():
        value = fields[name]
        if typ.endswith("?"):
            if value is None:
                continue
            typ = typ[:-1]
        ok = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "dict": lambda v: isinstance(v, dict),
            "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        }.get(typ, lambda v: isinstance(v, str) and v in typ[5:].split("|"))(value)  # noqa: B023 (called here)
        if not ok:
            raise ValueError(f"event {kind}: field {name}={value!r} is not {typ}")


def emit(kind: str, /, **fields: Any) -> None:
    """Write one event line to stdout (validated against EVENTS; floats made JSON-safe)."""
    _check(kind, fields)
    for k, v in fields.items():
        if isinstance(v, float) and not math.isfinite(v):
            fields[k] = None if EVENTS[kind][k].endswith("?") else (1e38 if v > 0 else -1e38 if v < 0 else 0.0)
    line = json.dumps({"event": kind, **fields}, ensure_ascii=False)
    if _silent:
        return
    with _lock:
        _stdout.write(line + "\n")
        _stdout.flush()


class EngineError(Exception):
    """An error with a protocol code; __main__ turns it into an ``error`` event and exit code 1."""

    def __init__(self, code: str, message: str, detail: str | None = None):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


def emit_ready(device: str = "cpu", dtype: str = "float32") -> None:
    """Every command's first event: the driver's handshake (it times out if this never comes)."""
    import os

    import torch

    from . import __version__

    emit("ready", engine_version=__version__, torch_version=torch.__version__, device=device, dtype=dtype, pid=os.getpid())

"""``python -m danlu_engine info SPEC.json``: what a checkpoint is (modelInfoSpec in src/engine/spec.ts).
Events: ready, result {path, format, arch, prediction_type, dtype, dtypes, size_bytes, parameters, notes}, done."""
from __future__ import annotations

import time

from ..protocol import emit, emit_ready
from .make_tiny import check_spec

SPEC_KEYS = {"version": int, "path": str}


def run(spec: dict) -> None:
    emit_ready()
    started = time.monotonic()
    spec = check_spec(spec, SPEC_KEYS, "info")
    from ..models import inspect_checkpoint  # imports torch and diffusers: after the ready handshake

    emit("result", data=inspect_checkpoint(spec["path"]))
    emit("done", outputs=[], steps=0, elapsed_s=time.monotonic() - started)

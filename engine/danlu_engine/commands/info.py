"""``python -m danlu_engine info SPEC.json``: what a checkpoint is (modelInfoSpec in src/engine/spec.ts).
Events: ready, result {path, format, arch, prediction_type, dtype, dtypes, size_bytes, parameters, notes}, done."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from ..protocol import emit, emit_ready
from ..spec import parse_spec


@dataclass(frozen=True)
class ModelInfoSpec:
    version: Literal[1]
    path: str


def run(raw: Any) -> None:
    emit_ready()
    started = time.monotonic()
    spec = parse_spec(raw, ModelInfoSpec)
    from ..models import inspect_checkpoint  # imports torch and diffusers: after the ready handshake

    emit("result", data=inspect_checkpoint(spec.path))
    emit("done", outputs=[], steps=0, elapsed_s=time.monotonic() - started)

"""``python -m danlu_engine make-tiny SPEC.json``: write a tiny random-weight model (makeTinySpec in
src/engine/spec.ts). Events: ready, result {arch, out, single_file, inpainting, controlnet, seed, files,
size_bytes}, done. controlnet: a tiny ControlNet matching the tiny UNet of arch (models/controlnet.py)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..protocol import emit, emit_ready
from ..spec import _bad, parse_spec


@dataclass(frozen=True)
class MakeTinySpec:
    version: Literal[1]
    arch: Literal["sd15", "sd2", "sdxl"]
    out: str  # a folder (diffusers layout) or, with single_file, a .safetensors path
    single_file: bool
    inpainting: bool  # a 9-input-channel UNet (an inpainting checkpoint)
    seed: int
    controlnet: bool = False  # the one optional key: older callers predate ControlNet


def parse(raw: Any) -> MakeTinySpec:
    spec = parse_spec(raw, MakeTinySpec)
    if not os.path.isabs(spec.out):
        raise _bad("out", f"must be an absolute path, got {spec.out!r}")
    if spec.controlnet and spec.inpainting:
        raise _bad("controlnet", "and inpainting exclude each other")
    return spec


def run(raw: Any) -> None:
    emit_ready()
    started = time.monotonic()
    spec = parse(raw)
    from ..models import make_tiny  # imports torch and diffusers: after the ready handshake
    from ..models.controlnet import write_tiny_controlnet

    if spec.controlnet:
        files = write_tiny_controlnet(spec.arch, spec.out, spec.single_file, spec.seed)
    else:
        files = make_tiny(spec.arch, spec.out, spec.single_file, spec.seed, spec.inpainting)
    data = {"arch": spec.arch, "out": spec.out, "single_file": spec.single_file, "inpainting": spec.inpainting,
            "controlnet": spec.controlnet, "seed": spec.seed, "files": files,
            "size_bytes": sum(os.path.getsize(f) for f in files)}
    emit("result", data=data)
    emit("done", outputs=files, steps=0, elapsed_s=time.monotonic() - started)

"""``python -m danlu_engine make-tiny SPEC.json``: write a tiny random-weight model (makeTinySpec in
src/engine/spec.ts). Events: ready, result {arch, out, single_file, inpainting, controlnet, seed, files,
size_bytes}, done. controlnet: a tiny ControlNet matching the tiny UNet of arch (models/controlnet.py)."""
from __future__ import annotations

import os
import time

from ..protocol import EngineError, emit, emit_ready

SPEC_KEYS = {"version": int, "arch": str, "out": str, "single_file": bool, "inpainting": bool, "seed": int,
             "controlnet": bool}


def check_spec(spec: object, fields: dict[str, type], name: str) -> dict:
    """The spec as a dict with exactly ``fields`` (key -> type), version 1; else BAD_SPEC naming the key."""
    if not isinstance(spec, dict):
        raise EngineError("BAD_SPEC", f"{name} spec must be a JSON object")
    for key in spec:
        if key not in fields:
            raise EngineError("BAD_SPEC", f"{name} spec: unknown key {key!r} (expected {', '.join(fields)})")
    for key, typ in fields.items():
        if key not in spec:
            raise EngineError("BAD_SPEC", f"{name} spec: missing key {key!r}")
        value = spec[key]
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise EngineError("BAD_SPEC", f"{name} spec: {key!r} must be {typ.__name__}, got {value!r}")
    if spec["version"] != 1:
        raise EngineError("BAD_SPEC", f"{name} spec: version {spec['version']} is not supported (expected 1)")
    return spec


def run(spec: dict) -> None:
    emit_ready()
    started = time.monotonic()
    if isinstance(spec, dict):  # the one optional key (older callers predate ControlNet)
        spec = {"controlnet": False, **spec}
    spec = check_spec(spec, SPEC_KEYS, "make-tiny")
    if spec["arch"] not in ("sd15", "sd2", "sdxl"):
        raise EngineError("BAD_SPEC", f"make-tiny spec: 'arch' must be sd15, sd2 or sdxl, got {spec['arch']!r}")
    if not os.path.isabs(spec["out"]):
        raise EngineError("BAD_SPEC", f"make-tiny spec: 'out' must be an absolute path, got {spec['out']!r}")
    if spec["controlnet"] and spec["inpainting"]:
        raise EngineError("BAD_SPEC", "make-tiny spec: 'controlnet' and 'inpainting' exclude each other")
    from ..models import make_tiny  # imports torch and diffusers: after the ready handshake
    from ..models.controlnet import write_tiny_controlnet

    if spec["controlnet"]:
        files = write_tiny_controlnet(spec["arch"], spec["out"], spec["single_file"], spec["seed"])
    else:
        files = make_tiny(spec["arch"], spec["out"], spec["single_file"], spec["seed"], spec["inpainting"])
    data = {"arch": spec["arch"], "out": spec["out"], "single_file": spec["single_file"],
            "inpainting": spec["inpainting"], "controlnet": spec["controlnet"], "seed": spec["seed"],
            "files": files, "size_bytes": sum(os.path.getsize(f) for f in files)}
    emit("result", data=data)
    emit("done", outputs=files, steps=0, elapsed_s=time.monotonic() - started)

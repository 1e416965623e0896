"""``python -m danlu_engine lora-bake SPEC.json`` (loraBakeSpec in src/engine/spec-lora.ts): LoRAs merged into
a base model's weights, saved as one single-file checkpoint with the original LDM key names.
Events: ready, phase load_model, phase save, result {out, arch, layers_changed, size_bytes}, done."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..lora_tools.spec import Precision, WeightedFile, check_files
from ..protocol import emit, emit_ready
from ..spec import parse_spec


@dataclass(frozen=True)
class LoraBakeSpec:
    version: Literal[1]
    model: str  # single-file checkpoint or diffusers folder
    loras: list[WeightedFile]
    out: str
    precision: Precision


def run(raw: Any) -> None:
    emit_ready()
    started = time.monotonic()
    spec = parse_spec(raw, LoraBakeSpec)
    loras = check_files("loras", spec.loras)

    from ..lora_tools.checkpoint import bake, model_layers
    from ..lora_tools.factors import read_lora
    from ..lora_tools.output import check_out
    from ..models import load_base_model
    from ..models.single_file import save_single_file
    from ..network.save import SAVE_DTYPES

    check_out(spec.out, [spec.model, *[p for p, _ in loras]])
    files = [(path, read_lora(path), weight) for path, weight in loras]  # bad LoRAs fail before the slow load
    emit("phase", name="load_model", current=None, total=None)
    model = load_base_model(spec.model)
    changed = bake(model_layers(model, with_text=True, every_layer=True), files)
    emit("phase", name="save", current=None, total=None)
    modules = {"unet": model.unet, "vae": model.vae, "text_encoder": model.text_encoders[0]}
    if model.arch == "sdxl":
        modules["text_encoder_2"] = model.text_encoders[1]
    dtype = SAVE_DTYPES[spec.precision]
    for module in modules.values():
        module.to(dtype)
    baked = [{"file": os.path.basename(p), "weight": w, "sshs_model_hash": lora.metadata.get("sshs_model_hash")}
             for p, lora, w in files]
    save_single_file(model.arch, modules, spec.out, metadata={"danlu_baked_loras": json.dumps(baked)})
    data = {"out": spec.out, "arch": model.arch, "layers_changed": changed,
            "size_bytes": os.path.getsize(spec.out), "dtype": str(dtype).removeprefix("torch.")}
    emit("result", data=data)
    emit("done", outputs=[spec.out], steps=0, elapsed_s=time.monotonic() - started)

"""``python -m danlu_engine lora-extract SPEC.json`` (loraExtractSpec in src/engine/spec-lora.ts): a kohya LoRA
from a fine-tuned checkpoint and its base, by SVD of the weight differences of the default LoRA targets.
Events: ready, phase load_model, result {out, arch, modules, mean_fro_kept, min_fro_kept, skipped}, done."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from ..lora_tools.spec import Precision, check_rank
from ..protocol import EngineError, emit, emit_ready
from ..spec import parse_spec


@dataclass(frozen=True)
class LoraExtractSpec:
    version: Literal[1]
    base: str
    tuned: str
    out: str
    rank: int
    text_encoder: bool
    min_diff: float  # layers whose largest change is at most this are left out
    precision: Precision


def parse(raw: Any) -> LoraExtractSpec:
    spec = parse_spec(raw, LoraExtractSpec)
    check_rank("rank", spec.rank)
    return spec


def run(raw: Any) -> None:
    emit_ready()
    started = time.monotonic()
    spec = parse(raw)
    from ..lora_tools.checkpoint import extract, model_layers
    from ..lora_tools.output import check_out, summary, write_lora
    from ..models import load_base_model
    from ..network import model_metadata
    from ..network.save import ModelFacts

    check_out(spec.out, [spec.base, spec.tuned])
    emit("phase", name="load_model", current=None, total=None)
    base = load_base_model(spec.base)
    tuned = load_base_model(spec.tuned, arch=base.arch)
    with_text = spec.text_encoder
    modules, report = extract(model_layers(base, with_text, False), model_layers(tuned, with_text, False),
                              spec.rank, spec.rank, spec.min_diff)
    if not modules:
        raise EngineError("BAD_MODEL", f"no layer differs by more than {spec.min_diff} between the two models")
    facts = ModelFacts(base.arch, base.v_prediction, base.source_path, base.legacy_model_hash, base.model_hash)
    write_lora(spec.out, modules, spec.precision, model_metadata(facts),
               f"danlu lora extract: rank {spec.rank} from {tuned.source_path}")
    skipped = len(model_layers(base, with_text, False)) - len(modules)
    emit("result", data={"out": spec.out, "arch": base.arch, "skipped": skipped, **summary(report)})
    emit("done", outputs=[spec.out], steps=0, elapsed_s=time.monotonic() - started)

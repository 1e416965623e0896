"""``python -m danlu_engine lora-merge SPEC.json`` (loraMergeSpec in src/engine/spec-lora.ts): several LoRAs
with weights into one, by stacking their ranks (exact) or by SVD of the summed change to a rank.
Events: ready, result {out, mode, modules (svd: per module kept share), mean_fro_kept, min_fro_kept}, done."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..lora_tools.spec import Precision, WeightedFile, check_files, check_rank
from ..protocol import emit, emit_ready
from ..spec import parse_spec

# Why LyCORIS files are not merged: a LoHa/LoKr file does not store a conv layer's kernel size (its factors
# are flattened over in_channels x k x k), so a LoRA re-factorised from its change could not be written with
# the layer's shape without the base model; IA3 and DoRA changes are functions of the base weight.
MERGE_INSTEAD = ("bake the files into a checkpoint instead (danlu lora bake MODEL A.safetensors:W B.safetensors:W "
                 "-o OUT.safetensors), or merge LoRA/LoCon files only")


@dataclass(frozen=True)
class LoraMergeSpec:
    version: Literal[1]
    inputs: list[WeightedFile]
    out: str
    mode: Literal["concat", "svd"]  # concat: exact, ranks add up; svd: to `rank`
    rank: int
    conv_rank: int
    precision: Precision | None  # None: the first input's


def run(raw: Any) -> None:
    emit_ready()
    started = time.monotonic()
    spec = parse_spec(raw, LoraMergeSpec)
    inputs = check_files("inputs", spec.inputs)
    check_rank("rank", spec.rank)
    check_rank("conv_rank", spec.conv_rank)
    from ..lora_tools.factors import read_lora, refuse_other_kinds
    from ..lora_tools.output import check_out, precision_for, summary, write_lora
    from ..lora_tools.reshape import merge_concat, merge_svd

    check_out(spec.out, [p for p, _ in inputs])
    loras = [(read_lora(path), weight) for path, weight in inputs]
    for (path, _), (lora, _) in zip(inputs, loras, strict=True):
        refuse_other_kinds(path, lora, "merge", MERGE_INSTEAD)
    report: list[dict] = []
    if spec.mode == "concat":
        modules = merge_concat(loras)
    else:
        modules, report = merge_svd(loras, spec.rank, spec.conv_rank)
    names = ", ".join(f"{os.path.basename(p)}:{w:g}" for p, w in inputs)
    merged_from = [{"file": os.path.basename(p), "weight": w, "sshs_model_hash": lora.metadata.get("sshs_model_hash")}
                   for (p, w), (lora, _) in zip(inputs, loras, strict=True)]
    metadata = {**loras[0][0].metadata, "ss_merged_from": json.dumps(merged_from)}
    write_lora(spec.out, modules, precision_for(spec.precision, loras[0][0].dtype), metadata,
               f"danlu lora merge ({spec.mode}): {names}")
    emit("result", data={"out": spec.out, "mode": spec.mode, **summary(report)})
    emit("done", outputs=[spec.out], steps=0, elapsed_s=time.monotonic() - started)

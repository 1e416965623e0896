"""``python -m danlu_engine lora-merge SPEC.json`` (loraMergeSpec in src/engine/spec.ts): several LoRAs with
weights into one, by stacking their ranks (exact) or by SVD of the summed change to a rank.
Events: ready, result {out, mode, modules (svd: per module kept share), mean_fro_kept, min_fro_kept}, done."""
from __future__ import annotations

import json
import os
import time

from ..lora_tools.spec import OPTIONAL_STR, check, weighted_files
from ..protocol import EngineError, emit, emit_ready

SPEC_KEYS = {"version": int, "inputs": list, "out": str, "mode": str, "rank": int, "conv_rank": int,
             "precision": OPTIONAL_STR}
# Why LyCORIS files are not merged: a LoHa/LoKr file does not store a conv layer's kernel size (its factors
# are flattened over in_channels x k x k), so a LoRA re-factorised from its change could not be written with
# the layer's shape without the base model; IA3 and DoRA changes are functions of the base weight.
MERGE_INSTEAD = ("bake the files into a checkpoint instead (danlu lora bake MODEL A.safetensors:W B.safetensors:W "
                 "-o OUT.safetensors), or merge LoRA/LoCon files only")


def run(spec: dict) -> None:
    emit_ready()
    started = time.monotonic()
    spec = check(spec, SPEC_KEYS, "lora-merge")
    inputs = weighted_files(spec["inputs"], "inputs", "lora-merge")
    if spec["mode"] not in ("concat", "svd"):
        raise EngineError("BAD_SPEC", "lora-merge spec: mode must be concat or svd")
    from ..lora_tools.factors import read_lora, refuse_other_kinds
    from ..lora_tools.output import check_out, precision_for, summary, write_lora
    from ..lora_tools.reshape import merge_concat, merge_svd

    check_out(spec["out"], [p for p, _ in inputs])
    loras = [(read_lora(path), weight) for path, weight in inputs]
    for (path, _), (lora, _) in zip(inputs, loras, strict=True):
        refuse_other_kinds(path, lora, "merge", MERGE_INSTEAD)
    if spec["mode"] == "concat":
        modules, report = merge_concat(loras), []
    else:
        modules, report = merge_svd(loras, spec["rank"], spec["conv_rank"])
    names = ", ".join(f"{os.path.basename(p)}:{w:g}" for p, w in inputs)
    merged_from = [{"file": os.path.basename(p), "weight": w, "sshs_model_hash": lora.metadata.get("sshs_model_hash")}
                   for (p, w), (lora, _) in zip(inputs, loras, strict=True)]
    metadata = {**loras[0][0].metadata, "ss_merged_from": json.dumps(merged_from)}
    write_lora(spec["out"], modules, precision_for(spec["precision"], loras[0][0].dtype), metadata,
               f"danlu lora merge ({spec['mode']}): {names}")
    emit("result", data={"out": spec["out"], "mode": spec["mode"], **summary(report)})
    emit("done", outputs=[spec["out"]], steps=0, elapsed_s=time.monotonic() - started)

"""``python -m danlu_engine lora-resize SPEC.json`` (loraResizeSpec in src/engine/spec.ts): a LoRA cut to a
lower rank by SVD. Events: ready, result {out, modules: [{module, rank, new_rank, fro_kept, sum_kept}],
mean_fro_kept, min_fro_kept}, done."""
from __future__ import annotations

import time

from ..lora_tools.spec import FLOAT, OPTIONAL_FLOAT, OPTIONAL_STR, check
from ..protocol import EngineError, emit, emit_ready

SPEC_KEYS = {"version": int, "path": str, "out": str, "rank": int, "conv_rank": int, "method": str,
             "param": OPTIONAL_FLOAT, "precision": OPTIONAL_STR}
METHODS = ("fixed", "sv_ratio", "sv_fro", "sv_cumulative")


def run(spec: dict) -> None:
    emit_ready()
    started = time.monotonic()
    spec = check(spec, SPEC_KEYS, "lora-resize")
    if spec["method"] not in METHODS:
        raise EngineError("BAD_SPEC", f"lora-resize spec: method must be one of {', '.join(METHODS)}")
    if spec["method"] != "fixed" and not isinstance(spec["param"], FLOAT):
        raise EngineError("BAD_SPEC", f"lora-resize spec: method {spec['method']} needs param")
    if spec["rank"] < 1 or spec["conv_rank"] < 1:
        raise EngineError("BAD_SPEC", "lora-resize spec: rank and conv_rank must be at least 1")
    from ..lora_tools.factors import read_lora, refuse_other_kinds
    from ..lora_tools.output import check_out, precision_for, summary, write_lora
    from ..lora_tools.reshape import resize

    check_out(spec["out"], [spec["path"]])
    lora = read_lora(spec["path"])
    refuse_other_kinds(spec["path"], lora, "resize", "bake it into a checkpoint (danlu lora bake) or keep the file "
                       "as it is")
    modules, report = resize(lora, spec["rank"], spec["conv_rank"], spec["method"], spec["param"])
    how = f"rank {spec['rank']}" if spec["method"] == "fixed" else f"{spec['method']} {spec['param']} (max rank {spec['rank']})"
    write_lora(spec["out"], modules, precision_for(spec["precision"], lora.dtype), lora.metadata, f"danlu lora resize: {how}")
    emit("result", data={"out": spec["out"], **summary(report)})
    emit("done", outputs=[spec["out"]], steps=0, elapsed_s=time.monotonic() - started)

"""``python -m danlu_engine lora-resize SPEC.json`` (loraResizeSpec in src/engine/spec-lora.ts): a LoRA cut to
a lower rank by SVD. Events: ready, result {out, modules: [{module, rank, new_rank, fro_kept, sum_kept}],
mean_fro_kept, min_fro_kept}, done."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from ..lora_tools.spec import Precision, check_rank
from ..protocol import emit, emit_ready
from ..spec import _bad, parse_spec


@dataclass(frozen=True)
class LoraResizeSpec:
    version: Literal[1]
    path: str
    out: str
    rank: int  # the rank (fixed), or the largest rank a dynamic method may keep
    conv_rank: int  # the same for 3x3 conv (LoCon) modules
    method: Literal["fixed", "sv_ratio", "sv_fro", "sv_cumulative"]
    param: float | None  # sv_ratio: largest/smallest kept; sv_fro, sv_cumulative: share 0..1
    precision: Precision | None  # None: the input's


def parse(raw: Any) -> LoraResizeSpec:
    spec = parse_spec(raw, LoraResizeSpec)
    check_rank("rank", spec.rank)
    check_rank("conv_rank", spec.conv_rank)
    if spec.method != "fixed" and spec.param is None:
        raise _bad("param", f"is null but method {spec.method} needs it")
    return spec


def run(raw: Any) -> None:
    emit_ready()
    started = time.monotonic()
    spec = parse(raw)
    from ..lora_tools.factors import read_lora, refuse_other_kinds
    from ..lora_tools.output import check_out, precision_for, summary, write_lora
    from ..lora_tools.reshape import resize

    check_out(spec.out, [spec.path])
    lora = read_lora(spec.path)
    refuse_other_kinds(spec.path, lora, "resize", "bake it into a checkpoint (danlu lora bake) or keep the file "
                       "as it is")
    modules, report = resize(lora, spec.rank, spec.conv_rank, spec.method, spec.param)
    how = f"rank {spec.rank}" if spec.method == "fixed" else f"{spec.method} {spec.param} (max rank {spec.rank})"
    write_lora(spec.out, modules, precision_for(spec.precision, lora.dtype), lora.metadata, f"danlu lora resize: {how}")
    emit("result", data={"out": spec.out, **summary(report)})
    emit("done", outputs=[spec.out], steps=0, elapsed_s=time.monotonic() - started)

"""Writing a tool's LoRA: precision, metadata kept and updated, sshs hashes recomputed, atomic."""
from __future__ import annotations

import os

import torch

from ..network import save_lora_file
from ..protocol import EngineError
from .factors import Factors, factor_tensors
from .reshape import network_dims

PRECISION_OF = {torch.float32: "float", torch.float16: "fp16", torch.bfloat16: "bf16"}
STALE_KEYS = ("sshs_model_hash", "sshs_legacy_hash")


def check_out(path: str, inputs: list[str]) -> None:
    if not os.path.isabs(path) or not path.endswith(".safetensors"):
        raise EngineError("BAD_SPEC", f"out must be an absolute .safetensors path, got {path!r}")
    if any(os.path.abspath(p) == path for p in inputs):
        raise EngineError("BAD_SPEC", f"out {path} is one of the inputs; write to a new file")
    if not os.path.isdir(os.path.dirname(path)):
        raise EngineError("FILE_NOT_FOUND", f"the folder for {path} does not exist")


def write_lora(path: str, modules: dict[str, Factors], precision: str, metadata: dict[str, str], comment: str) -> dict[str, str]:
    """Save ``modules`` with ``metadata`` (hashes dropped and recomputed, ss_network_dim/alpha updated)."""
    meta = {k: v for k, v in metadata.items() if k not in STALE_KEYS}
    meta["ss_network_dim"], meta["ss_network_alpha"] = network_dims(modules)
    old = meta.get("ss_training_comment")
    meta["ss_training_comment"] = comment + (f"; {old}" if old and old != "None" else "")
    return save_lora_file(path, factor_tensors(modules), precision, meta)


def precision_for(requested: str | None, source: torch.dtype) -> str:
    """The requested precision, or the source file's (float32 when it was something else)."""
    return requested if requested is not None else PRECISION_OF.get(source, "float")


def summary(report: list[dict]) -> dict:
    fro = [r["fro_kept"] for r in report]
    return {"modules": report, "mean_fro_kept": sum(fro) / len(fro) if fro else 1.0,
            "min_fro_kept": min(fro) if fro else 1.0}

"""Base models, offline: load SD1.x / SD2.x / SDXL from a single-file checkpoint or a diffusers folder,
make tiny random-weight models with the real architectures, and tell what a checkpoint is.

The engine never contacts a model hub: configs ship in danlu_engine/configs/, tokenizers are built from
open_clip's BPE file (danlu_engine.tokenizer).
"""
from __future__ import annotations

import os

# No hub access from anything below, even by accident (set before diffusers/transformers are imported).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

# Exports are imported on first use: inspect_checkpoint needs only torch and safetensors, and importing
# diffusers costs seconds that `danlu model info` should not pay.
_EXPORTS = {
    "BaseModel": ".loader",
    "load_base_model": ".loader",
    "inspect_checkpoint": ".inspect",
    "ldm_unet_module_names": ".naming",
    "text_encoder_module_names": ".naming",
    "make_tiny": ".tiny",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)

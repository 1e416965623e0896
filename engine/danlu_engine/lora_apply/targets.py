"""Every Linear/Conv2d of a loaded model under the names LoRA files use for it.

UNet: ``lora_unet_`` + the diffusers path (SD1.x/SD2.x files from sd-scripts) and + the LDM path
(SDXL files from sd-scripts), both accepted for any architecture. Text encoders: ``lora_te`` (SD1/2)
or ``lora_te1``/``lora_te2`` (SDXL) + the path as sd-scripts sees it (with ``text_model.``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

import torch

from ..models import ldm_unet_module_names, text_encoder_module_names

UNET_PREFIX = "lora_unet"


def text_encoder_prefixes(count: int) -> list[str]:
    """``lora_te`` for the single encoder of SD1/2, ``lora_te1``/``lora_te2`` for SDXL's two."""
    return ["lora_te"] if count == 1 else [f"lora_te{i + 1}" for i in range(count)]


@dataclass(frozen=True)
class Target:
    module: torch.nn.Linear | torch.nn.Conv2d
    part: str  # "unet" or "te": which weight of <lora:name:te:unet> applies


def _is_layer(module: torch.nn.Module) -> TypeGuard[torch.nn.Linear | torch.nn.Conv2d]:
    return isinstance(module, (torch.nn.Linear, torch.nn.Conv2d))


def model_targets(model) -> dict[str, Target]:
    names: dict[str, Target] = {}
    ldm = ldm_unet_module_names(model.unet, model.arch)
    for path, module in model.unet.named_modules():
        if not _is_layer(module):
            continue
        names[f"{UNET_PREFIX}.{path}".replace(".", "_")] = Target(module, "unet")
        if path in ldm:
            names[f"{UNET_PREFIX}.{ldm[path]}".replace(".", "_")] = Target(module, "unet")
    prefixes = text_encoder_prefixes(len(model.text_encoders))
    for prefix, encoder in zip(prefixes, model.text_encoders, strict=True):
        renamed = text_encoder_module_names(encoder)
        for path, module in encoder.named_modules():
            if path and _is_layer(module):
                names[f"{prefix}.{renamed[path]}".replace(".", "_")] = Target(module, "te")
    return names

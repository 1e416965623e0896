"""Kohya module names -> the layers of a loaded base model (SD1.x/SD2.x: diffusers UNet paths; SDXL: the
LDM paths sd-scripts uses; text encoders: ``lora_te``/``lora_te1``/``lora_te2`` + the CLIP path)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from ..models.ldm_keys import UnetLayout, unet_ldm_path
from ..network import clip_file_path
from ..network.adapter import Layer
from ..network.lora import (
    TEXT_ENCODER_TARGET_BLOCKS,
    UNET_PREFIX,
    UNET_TARGET_BLOCKS,
    find_targets,
    text_encoder_prefixes,
)

if TYPE_CHECKING:
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel


def _unet_rename(unet: UNet2DConditionModel, arch: str):
    if arch != "sdxl":
        return lambda path: path
    layout = UnetLayout.from_config(dict(unet.config))
    return lambda path: unet_ldm_path(path, layout)


def all_layers(unet: UNet2DConditionModel, text_encoders: list[nn.Module], arch: str) -> dict[str, Layer]:
    """Every Linear and Conv2d of the model by the kohya name a LoRA (or LoCon) module on it would have."""
    out: dict[str, Layer] = {}
    rename = _unet_rename(unet, arch)
    for path, module in unet.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)) and path:
            file_path = rename(path)
            if file_path is not None:
                out[f"{UNET_PREFIX}.{file_path}".replace(".", "_")] = module
    for encoder, prefix in zip(text_encoders, text_encoder_prefixes(len(text_encoders)), strict=True):
        to_file = clip_file_path(encoder) or (lambda path: path)
        for path, module in encoder.named_modules():
            if isinstance(module, nn.Linear) and path:
                out[f"{prefix}.{to_file(path)}".replace(".", "_")] = module
    return out


def default_targets(unet: UNet2DConditionModel, text_encoders: list[nn.Module], arch: str,
                    with_text: bool) -> dict[str, Layer]:
    """The layers sd-scripts' networks.lora adapts by default (what ``extract`` writes)."""
    rename = _unet_rename(unet, arch) if arch == "sdxl" else None
    targets = find_targets(unet, UNET_TARGET_BLOCKS, UNET_PREFIX, rename)
    if with_text:
        for encoder, prefix in zip(text_encoders, text_encoder_prefixes(len(text_encoders)), strict=True):
            targets += find_targets(encoder, TEXT_ENCODER_TARGET_BLOCKS, prefix, clip_file_path(encoder))
    return {t.lora_name: t.module for t in targets}

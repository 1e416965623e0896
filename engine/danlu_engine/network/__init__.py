"""The trainable network (kohya LoRA) and how it is written to disk."""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .lora import (
    TEXT_ENCODER_TARGET_BLOCKS,
    UNET_PREFIX,
    UNET_TARGET_BLOCKS,
    LoRAModule,
    LoRANetwork,
    find_targets,
    text_encoder_prefixes,
)
from .save import ModelFacts, model_metadata, modelspec_metadata, save_lora_file, save_metadata

__all__ = [
    "LoRAModule",
    "LoRANetwork",
    "ModelFacts",
    "build_lora_network",
    "model_metadata",
    "modelspec_metadata",
    "save_lora_file",
    "save_metadata",
]


def clip_file_path(encoder: nn.Module) -> Callable[[str], str] | None:
    """Files name CLIP modules from ``text_model.``; transformers 5's CLIPTextModel has no such level."""
    if hasattr(encoder, "text_model"):
        return None
    return lambda path: f"text_model.{path}"


def build_lora_network(
    unet: nn.Module,
    text_encoders: list[nn.Module],
    dim: int,
    alpha: float,
    train_unet: bool,
    train_text_encoder: bool,
    unet_rename: Callable[[str], str] | None = None,
) -> LoRANetwork:
    """A LoRA on the kohya default targets of the parts being trained (not yet hooked in: apply_to_base).

    ``unet_rename`` maps a diffusers UNet module path to the name the file uses (SDXL: the LDM path).
    """
    unet_targets = find_targets(unet, UNET_TARGET_BLOCKS, UNET_PREFIX, unet_rename) if train_unet else []
    text_targets = []
    if train_text_encoder:
        for encoder, prefix in zip(text_encoders, text_encoder_prefixes(len(text_encoders))):
            text_targets += find_targets(encoder, TEXT_ENCODER_TARGET_BLOCKS, prefix, clip_file_path(encoder))
    if not unet_targets and not text_targets:
        raise ValueError("the network has nothing to train: enable train_unet or train_text_encoder")
    return LoRANetwork(unet_targets, text_targets, dim, alpha)

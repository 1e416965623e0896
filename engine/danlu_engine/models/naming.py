"""UNet module names in the original LDM layout, as sd-scripts names SDXL LoRA modules.

sd-scripts builds SDXL from its own UNet class whose module tree is the LDM checkpoint's (input_blocks /
middle_block / output_blocks), so its SDXL LoRA keys are ``lora_unet_`` + the LDM path with "." -> "_",
e.g. ``lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q``. SD1.x/SD2.x LoRAs from sd-scripts
use the diffusers paths instead (``lora_unet_down_blocks_1_attentions_0_...``).
"""
from __future__ import annotations

import torch
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel  # defining module: see build.py

from .ldm_keys import UnetLayout, unet_ldm_path


def ldm_unet_module_names(unet: UNet2DConditionModel, arch: str) -> dict[str, str]:
    """diffusers module path -> LDM module path, for every module of ``unet`` that has an LDM counterpart
    (blocks, resnets, attentions and their Linear/Conv/Norm children; not activations or containers).

    "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q" -> "input_blocks.4.1.transformer_blocks.0.attn1.to_q"
    """
    if arch not in ("sd15", "sd2", "sdxl"):
        raise ValueError(f"unknown arch {arch!r}")
    layout = UnetLayout.from_config(dict(unet.config))
    names = {}
    for path, _ in unet.named_modules():
        ldm = unet_ldm_path(path, layout) if path else None
        if ldm is not None:
            names[path] = ldm
    return names


def text_encoder_module_names(text_encoder: torch.nn.Module) -> dict[str, str]:
    """Module path in the loaded text encoder -> the path sd-scripts sees (transformers 4's layout).

    transformers 5's CLIPTextModel has no ``text_model`` level (``encoder.layers.0.self_attn.q_proj``);
    sd-scripts' keys have it (``lora_te_text_model_encoder_layers_0_self_attn_q_proj``). The
    WithProjection model (SDXL's second encoder) still has it, and keeps its names.
    """
    names = {}
    for path, _ in text_encoder.named_modules():
        if path:
            names[path] = path if path.startswith("text_model") or path == "text_projection" else "text_model." + path
    return names

"""The shipped component configs (engine/danlu_engine/configs/<variant>/*.json) and the tiny variants.

Variants: ``sd15``, ``sd2-512`` (epsilon), ``sd2-768-v`` (v-prediction), ``sdxl`` (base 1.0). The values
are the ones in the official diffusers repositories' config files. Tiny models keep every structural
choice (block types, layers per block, transformer depth, text layers, vocabulary) and shrink only the
widths, so their module and LoRA key names are the real ones.
"""
from __future__ import annotations

import copy
import json
import os
from functools import cache

CONFIG_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
ARCHS = ("sd15", "sd2", "sdxl")
# GroupNorm group counts tried, largest first: real models use 32; tiny widths below 32 need fewer.
GROUP_CHOICES = (32, 16, 8, 4, 2, 1)
HEAD_DIM = 64  # SD2.x / SDXL UNet attention and every CLIP text tower use 64-wide heads


def variant_for(arch: str, v_prediction: bool) -> str:
    if arch == "sd2":
        return "sd2-768-v" if v_prediction else "sd2-512"
    if arch in ("sd15", "sdxl"):
        return arch
    raise ValueError(f"unknown arch {arch!r}")


@cache
def _read(variant: str, component: str) -> dict:
    with open(os.path.join(CONFIG_ROOT, variant, component + ".json"), encoding="utf-8") as f:
        return json.load(f)


def shipped(variant: str, component: str) -> dict:
    """A fresh copy of one shipped config (component: unet, vae, text_encoder, text_encoder_2, scheduler,
    model_index)."""
    return copy.deepcopy(_read(variant, component))


def norm_groups(widths: list[int]) -> int:
    """The GroupNorm group count: 32 for every real model; the largest choice dividing all tiny widths."""
    return next(g for g in GROUP_CHOICES if all(w % g == 0 for w in widths))


def text_heads(hidden: int) -> int:
    """CLIP text towers use 64-wide heads (ViT-L 12, ViT-H 16, bigG 20); tiny towers get one head."""
    return max(1, hidden // HEAD_DIM)


def unet_heads(arch: str, widths: list[int]) -> int | list[int]:
    """diffusers' ``attention_head_dim`` (a head COUNT, a historical misnomer): SD1.x has 8 heads at
    every level; SD2.x and SDXL have 64-wide heads (one head for tiny widths below 64)."""
    if arch == "sd15":
        return 8
    return [max(1, w // HEAD_DIM) for w in widths]


# Tiny sizes: widths grow where the real ones grow (so the same 1x1 shortcut convs exist), text towers
# keep their layer counts and the 49,408-token vocabulary (which dominates the file size).
TINY_UNET_WIDTHS = {"sd15": [16, 32, 64, 64], "sd2": [16, 32, 64, 64], "sdxl": [8, 16, 32]}
TINY_VAE_WIDTHS = [8, 16, 32, 32]
TINY_TEXT_HIDDEN = {"sd15": [32], "sd2": [32], "sdxl": [16, 16]}
TINY_SAMPLE_SIZE = 8  # latent pixels: 64 px images


def tiny_text_config(arch: str, index: int, base: dict) -> dict:
    hidden = TINY_TEXT_HIDDEN[arch][index]
    return {**base, "hidden_size": hidden, "intermediate_size": 4 * hidden, "projection_dim": hidden,
            "num_attention_heads": text_heads(hidden)}


INPAINT_PIPELINES = {"sd15": "StableDiffusionInpaintPipeline", "sd2": "StableDiffusionInpaintPipeline",
                     "sdxl": "StableDiffusionXLInpaintPipeline"}


def tiny_configs(arch: str, inpainting: bool = False) -> dict[str, dict]:
    """Component name -> config for a tiny model of ``arch`` (epsilon prediction); inpainting: a 9-channel
    UNet input (latents, mask, masked-image latents) and the inpainting pipeline class."""
    variant = variant_for(arch, False)
    components = ["unet", "vae", "text_encoder", "scheduler", "model_index"]
    if arch == "sdxl":
        components.insert(3, "text_encoder_2")
    out = {c: shipped(variant, c) for c in components}
    widths = TINY_UNET_WIDTHS[arch]
    hiddens = TINY_TEXT_HIDDEN[arch]
    out["unet"].update(block_out_channels=widths, norm_num_groups=norm_groups(widths),
                       attention_head_dim=unet_heads(arch, widths), cross_attention_dim=sum(hiddens),
                       sample_size=TINY_SAMPLE_SIZE)
    if arch == "sdxl":
        te2_projection = hiddens[1]
        out["unet"]["projection_class_embeddings_input_dim"] = 6 * out["unet"]["addition_time_embed_dim"] + te2_projection
    out["vae"].update(block_out_channels=TINY_VAE_WIDTHS, norm_num_groups=norm_groups(TINY_VAE_WIDTHS),
                      sample_size=TINY_SAMPLE_SIZE * 8)
    if inpainting:
        out["unet"]["in_channels"] = 9
        out["model_index"]["_class_name"] = INPAINT_PIPELINES[arch]
    out["text_encoder"] = tiny_text_config(arch, 0, out["text_encoder"])
    if arch == "sdxl":
        out["text_encoder_2"] = tiny_text_config(arch, 1, out["text_encoder_2"])
    return out

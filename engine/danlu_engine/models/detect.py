"""What a single-file checkpoint is, from its tensor names: SD1.x / SD2.x / SDXL, or a clear error.

Errors: a LoRA or an embedding given as a base model and a lone VAE are BAD_MODEL (wrong kind of file);
other diffusion architectures (SD3, Flux, Stable Cascade, ...), SDXL refiners and inpainting UNets are
UNSUPPORTED_ARCH, naming what the file looks like. Generation accepts inpainting UNets (9 input channels:
latents, mask, masked-image latents) with ``inpainting_ok``; training never does.
"""
from __future__ import annotations

import os
import re

from ..protocol import EngineError
from .checkpoint_file import CheckpointFile

UNET = "model.diffusion_model."
INPAINT_CHANNELS = 9  # an inpainting UNet's input: 4 latent + 1 mask + 4 masked-image latent channels
VAE = "first_stage_model."
# arch -> [(text encoder prefix, layout)]; layout "clip" = transformers CLIPTextModel as is, "open_clip" = OpenCLIP
TEXT_ENCODERS = {
    "sd15": [("cond_stage_model.transformer.", "clip")],
    "sd2": [("cond_stage_model.model.", "open_clip")],
    "sdxl": [("conditioner.embedders.0.transformer.", "clip"), ("conditioner.embedders.1.model.", "open_clip")],
}

# (substring of a key, what the file is); checked against every key, with or without a prefix
FOREIGN_MARKERS = (
    ("joint_blocks.", "Stable Diffusion 3 (MMDiT)"),
    ("double_blocks.", "Flux"),
    ("single_transformer_blocks.", "Flux (diffusers layout)"),
    ("double_layers.", "AuraFlow"),
    ("clip_txt_mapper", "Stable Cascade (stage C)"),
    ("channelwise.", "Stable Cascade (stage B)"),
    ("txt_in.individual_token_refiner", "HunyuanVideo"),
    ("cap_embedder.", "Lumina 2 / Z-Image"),
    ("cross_attn.q_linear", "Sana"),
    ("head.modulation", "Wan"),
    ("patchify_proj", "LTX-Video"),
    ("t_embedder.mlp", "a DiT-family transformer (PixArt, Hunyuan-DiT, ...)"),
    ("time_stack", "Stable Video Diffusion"),
    ("control_model.", "a ControlNet"),
    ("motion_modules.", "an AnimateDiff motion module"),
    ("edm_mean", "Playground v2.5"),
)
V_PRED_NAME_HINT = re.compile(r"768-v|v[-_]?pred", re.IGNORECASE)
LORA_MARKERS = (
    *(".lora_down.", ".lora_up.", ".lora_A.", ".lora_B.", ".hada_w1", ".lokr_w1", ".oft_blocks"),
    *("lora_unet_", "lora_te"),
)


def _lora_error(path: str, keys: list[str]) -> EngineError:
    modules = {k.split(".")[0] for k in keys if any(m in k for m in LORA_MARKERS)}
    return EngineError(
        "BAD_MODEL",
        f"{path} is a LoRA/LyCORIS network ({len(modules)} modules), not a base model: give the Stable "
        "Diffusion checkpoint it was trained on as the model, and load the LoRA on top of it",
    )


def _foreign_arch(keys: list[str]) -> str | None:
    for marker, name in FOREIGN_MARKERS:
        if any(marker in k for k in keys):
            return name
    return None


def detect_single_file_arch(path: str, shapes: dict[str, tuple[int, ...]], inpainting_ok: bool = False) -> str:
    """"sd15" | "sd2" | "sdxl" for an LDM-layout checkpoint, else EngineError BAD_MODEL / UNSUPPORTED_ARCH.
    inpainting_ok: a 9-input-channel (inpainting) UNet is accepted too."""
    keys = list(shapes)
    has_unet = any(k.startswith(UNET) for k in keys)
    if not has_unet and any(m in k for k in keys for m in LORA_MARKERS):
        raise _lora_error(path, keys)
    foreign = _foreign_arch(keys)
    if foreign:
        raise EngineError("UNSUPPORTED_ARCH", f"{path} looks like {foreign}; danlu trains SD1.x, SD2.x and SDXL LoRAs")
    if not has_unet:
        raise EngineError("BAD_MODEL", f"{path} is not a Stable Diffusion checkpoint: {_what_else(keys)}")
    in_channels = shapes.get(UNET + "input_blocks.0.0.weight", (0, 4))[1]
    if in_channels != 4 and not (in_channels == INPAINT_CHANNELS and inpainting_ok):
        kind = {9: "an inpainting model", 8: "an instruct-pix2pix model", 7: "an upscaler"}.get(in_channels, "a model")
        raise EngineError("UNSUPPORTED_ARCH", f"{path} looks like {kind} ({in_channels} UNet input channels); "
                          "danlu trains LoRAs on text-to-image base models (4 input channels)")
    if any(k.startswith("conditioner.embedders.0.model.") for k in keys):
        raise EngineError("UNSUPPORTED_ARCH", f"{path} looks like the SDXL refiner; train on an SDXL base model")
    for arch in ("sdxl", "sd2", "sd15"):
        if all(any(k.startswith(prefix) for k in keys) for prefix, _ in TEXT_ENCODERS[arch]):
            return arch
    raise EngineError("BAD_MODEL", f"{path} has a UNet but no text encoder weights this engine knows "
                      "(expected cond_stage_model.* or conditioner.embedders.*)")


def _what_else(keys: list[str]) -> str:
    if not keys:
        return "it holds no tensors"
    if all(k.startswith(("encoder.", "decoder.", "quant_conv", "post_quant_conv", VAE)) for k in keys):
        return "it is a VAE on its own (use it as the VAE, with a full checkpoint as the model)"
    if all(k in ("emb_params", "clip_l", "clip_g", "string_to_param", "string_to_token", "name", "step") or
           k.startswith(("string_to_param.", "emb_params")) for k in keys):
        return "it is a textual-inversion embedding"
    if any(k.startswith(("down_blocks.", "mid_block.", "text_model.")) for k in keys):
        return "it is one diffusers component's weights; give the whole diffusers model folder instead"
    return f"no UNet weights (model.diffusion_model.*); first keys: {', '.join(sorted(keys)[:3])}"


def single_file_v_prediction(ckpt: CheckpointFile, arch: str) -> bool:
    """v-prediction cannot be read from the weights. The rule, first match wins (an explicit v_prediction
    argument overrides it): a ``v_pred`` tensor in the file (the ComfyUI marker) -> v; a YAML config next
    to the file (same name, ``.yaml``, the web UI's convention) saying ``parameterization: "v"`` -> v; the
    file name containing "768-v" (SD2.x only) or "v-pred" / "v_pred" / "vpred" -> v; otherwise epsilon."""
    if "v_pred" in ckpt.shapes:
        return True
    yaml_path = os.path.splitext(ckpt.path)[0] + ".yaml"
    if os.path.isfile(yaml_path):
        with open(yaml_path, encoding="utf-8", errors="replace") as f:
            if re.search(r"parameterization:\s*[\"']?v[\"']?\s*$", f.read(), re.MULTILINE):
                return True
    hint = V_PRED_NAME_HINT.search(os.path.basename(ckpt.path))
    return hint is not None and (arch == "sd2" or hint.group(0).lower() != "768-v")

"""diffusers folder layout: what model a folder holds, and loading its components (all local files)."""
from __future__ import annotations

import json
import os

import torch

from ..protocol import EngineError

SD_PIPELINES = ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline")
SDXL_PIPELINES = ("StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline")
INPAINT_PIPELINES = {"StableDiffusionInpaintPipeline": "sd", "StableDiffusionXLInpaintPipeline": "sdxl"}
FOREIGN_PIPELINES = {
    "StableDiffusion3": "Stable Diffusion 3", "Flux": "Flux", "StableCascade": "Stable Cascade",
    "PixArt": "PixArt", "Kandinsky": "Kandinsky", "HunyuanDiT": "Hunyuan-DiT", "AuraFlow": "AuraFlow",
    "Sana": "Sana", "Lumina": "Lumina", "Wan": "Wan", "StableVideoDiffusion": "Stable Video Diffusion",
    "Inpaint": "an inpainting pipeline", "InstructPix2Pix": "instruct-pix2pix", "Upscale": "an upscaler",
}


def read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise EngineError("BAD_MODEL", f"{path} is missing; the diffusers model folder is incomplete") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EngineError("BAD_MODEL", f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise EngineError("BAD_MODEL", f"{path} is not a JSON object")
    return data


def folder_arch(folder: str, inpainting_ok: bool = False) -> str:
    """"sd15" | "sd2" | "sdxl" for a diffusers folder, from model_index.json and the UNet config.
    inpainting_ok: an inpainting pipeline (UNet with 9 input channels) is accepted too."""
    index_path = os.path.join(folder, "model_index.json")
    if not os.path.isfile(index_path):
        raise EngineError("BAD_MODEL", f"{folder} is a folder but not a diffusers model (no model_index.json); "
                          "give a .safetensors checkpoint or a diffusers model folder")
    pipeline = str(read_json(index_path).get("_class_name", ""))
    inpainting = inpainting_ok and pipeline in INPAINT_PIPELINES
    if inpainting:
        pipeline = SDXL_PIPELINES[0] if INPAINT_PIPELINES[pipeline] == "sdxl" else SD_PIPELINES[0]
    for marker, name in FOREIGN_PIPELINES.items():
        if marker in pipeline:
            raise EngineError("UNSUPPORTED_ARCH", f"{folder} holds {name} ({pipeline}); danlu trains SD1.x, SD2.x and SDXL LoRAs")
    unet = read_json(os.path.join(folder, "unet", "config.json"))
    if unet.get("in_channels", 4) != (9 if inpainting else 4):
        raise EngineError("UNSUPPORTED_ARCH", f"{folder}: UNet with {unet['in_channels']} input channels (inpainting?)")
    if pipeline in SDXL_PIPELINES:
        if not os.path.isdir(os.path.join(folder, "text_encoder")):
            raise EngineError("UNSUPPORTED_ARCH", f"{folder} looks like the SDXL refiner; train on an SDXL base model")
        return "sdxl"
    if pipeline in SD_PIPELINES:
        return "sd2" if unet.get("use_linear_projection") else "sd15"
    raise EngineError("UNSUPPORTED_ARCH", f"{folder} holds a {pipeline or 'pipeline without a _class_name'}; "
                      "danlu trains SD1.x, SD2.x and SDXL LoRAs")


def folder_prediction_type(folder: str) -> str | None:
    path = os.path.join(folder, "scheduler", "scheduler_config.json")
    return read_json(path).get("prediction_type") if os.path.isfile(path) else None


def _load(what: str, folder: str, loader):
    if not os.path.isdir(folder):
        raise EngineError("BAD_MODEL", f"{folder} is missing; the diffusers model folder has no {what}")
    try:
        return loader(folder)
    except EngineError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise EngineError("BAD_MODEL", f"cannot load the {what} from {folder}: {str(e).splitlines()[0]}") from None


def load_folder_components(folder: str, arch: str) -> dict[str, torch.nn.Module]:
    from diffusers import AutoencoderKL, UNet2DConditionModel  # here: inspect must not pay for the import
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    f32 = torch.float32
    modules = {
        "unet": _load("UNet", os.path.join(folder, "unet"), lambda p: UNet2DConditionModel.from_pretrained(p, torch_dtype=f32)),
        "vae": _load("VAE", os.path.join(folder, "vae"), lambda p: AutoencoderKL.from_pretrained(p, torch_dtype=f32)),
        "text_encoder": _load("text encoder", os.path.join(folder, "text_encoder"),
                              lambda p: CLIPTextModel.from_pretrained(p, dtype=f32)),
    }
    if arch == "sdxl":
        modules["text_encoder_2"] = _load("second text encoder", os.path.join(folder, "text_encoder_2"),
                                          lambda p: CLIPTextModelWithProjection.from_pretrained(p, dtype=f32))
    return modules

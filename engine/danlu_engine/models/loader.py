"""load_base_model: a single-file checkpoint or a diffusers folder -> BaseModel (CPU, float32, frozen)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import cast

# the defining modules: see build.py
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler

from ..protocol import EngineError
from ..tokenizer import tokenizers_for
from . import build, configs
from . import folder as folder_mod
from .checkpoint_file import open_checkpoint
from .detect import detect_single_file_arch, single_file_v_prediction
from .hash_cache import file_sha256
from .single_file import load_single_file_components
from .vae_file import load_vae


@dataclass
class BaseModel:
    """A loaded base model. All modules on the CPU, float32, eval(), requires_grad False.

    model_hash: SHA-256 of the whole file, hex (sd-scripts' ``calculate_sha256``: ``ss_new_sd_model_hash``).
    legacy_model_hash: the old web-UI hash, the first 8 hex digits of SHA-256 over 64 KiB at offset 1 MiB
    (sd-scripts' ``model_hash``: ``ss_sd_model_hash``). For a diffusers folder both are "IsADirectory",
    as sd-scripts writes them.
    """

    arch: str  # "sd15" | "sd2" | "sdxl"
    v_prediction: bool
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoders: list  # [CLIPTextModel] (sd15, sd2); [CLIPTextModel, CLIPTextModelWithProjection] (sdxl)
    tokenizers: list  # a CLIPTokenizer per text encoder
    noise_scheduler: DDPMScheduler  # the training schedule with the model's prediction_type
    source_path: str
    model_hash: str
    legacy_model_hash: str = ""


def legacy_hash(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(0x100000)
        return hashlib.sha256(f.read(0x10000)).hexdigest()[:8]


def _check_arch(path: str, detected: str, requested: str | None) -> str:
    if requested is not None and requested != detected:
        raise EngineError("BAD_MODEL", f"{path} is an {detected} model, but arch {requested} was requested; "
                          f"set arch to {detected} (or leave it unset to detect it)")
    return detected


def load_base_model(path: str, arch: str | None = None, v_prediction: bool | None = None,
                    vae_path: str | None = None, inpainting_ok: bool = False) -> BaseModel:
    """Load SD1.x / SD2.x / SDXL from a single file (.safetensors; .ckpt through torch's weights-only loader)
    or a diffusers folder. arch None: detect; v_prediction None: detect (see single_file_v_prediction;
    a folder's scheduler config says it); vae_path: a VAE to use instead of the model's own; inpainting_ok:
    accept an inpainting checkpoint (UNet in_channels 9; generation only)."""
    if arch is not None and arch not in configs.ARCHS:
        raise EngineError("BAD_SPEC", f"arch must be one of {', '.join(configs.ARCHS)}, got {arch!r}")
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise EngineError("FILE_NOT_FOUND", f"model not found: {path}")
    if os.path.isdir(path):
        arch = _check_arch(path, folder_mod.folder_arch(path, inpainting_ok), arch)
        if v_prediction is None:
            v_prediction = folder_mod.folder_prediction_type(path) == "v_prediction"
        modules = folder_mod.load_folder_components(path, arch)
        hashes = ("IsADirectory", "IsADirectory")
    else:
        ckpt = open_checkpoint(path)
        arch = _check_arch(path, detect_single_file_arch(path, ckpt.shapes, inpainting_ok), arch)
        if v_prediction is None:
            v_prediction = single_file_v_prediction(ckpt, arch)
        variant = configs.variant_for(arch, v_prediction)
        modules = load_single_file_components(ckpt, arch, variant, with_vae=vae_path is None)
        hashes = (file_sha256(path), legacy_hash(path))
    if vae_path is not None:
        modules["vae"] = load_vae(vae_path, arch)
    for module in modules.values():
        build.freeze(module)
    text_encoders = [modules["text_encoder"]] + ([modules["text_encoder_2"]] if arch == "sdxl" else [])
    unet, vae = cast(UNet2DConditionModel, modules["unet"]), cast(AutoencoderKL, modules["vae"])
    return BaseModel(
        arch=arch, v_prediction=v_prediction, unet=unet, vae=vae, text_encoders=text_encoders,
        tokenizers=tokenizers_for(arch), noise_scheduler=build.training_scheduler(v_prediction), source_path=path,
        model_hash=hashes[0], legacy_model_hash=hashes[1],
    )

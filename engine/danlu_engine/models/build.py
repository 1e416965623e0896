"""Module construction from config dicts (random weights), shared by make_tiny and the loaders."""
from __future__ import annotations

import torch

# the defining modules: the package's own exports type-check as its torch-less placeholder classes
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
from diffusers.utils import logging as diffusers_logging
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
from transformers.utils import logging as transformers_logging

# stdout carries protocol events only; the libraries' progress bars and advice would be noise on stderr.
for _logging in (diffusers_logging, transformers_logging):
    _logging.disable_progress_bar()
    _logging.set_verbosity_error()

# The training noise schedule every SD1.x/SD2.x/SDXL model was trained with (sd-scripts uses the same).
TRAIN_SCHEDULE = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                  "beta_schedule": "scaled_linear", "clip_sample": False}


def _public(config: dict) -> dict:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def build_unet(config: dict) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_config(_public(config))


def build_vae(config: dict) -> AutoencoderKL:
    return AutoencoderKL.from_config(_public(config))


def build_text_encoder(config: dict, with_projection: bool) -> CLIPTextModel | CLIPTextModelWithProjection:
    fields = {k: v for k, v in _public(config).items() if k not in ("architectures", "model_type")}
    cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    return cls(CLIPTextConfig(**fields))


def training_scheduler(v_prediction: bool) -> DDPMScheduler:
    return DDPMScheduler(**TRAIN_SCHEDULE, prediction_type="v_prediction" if v_prediction else "epsilon")


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    """CPU, float32, eval mode, no gradients: how load_base_model hands every module over."""
    if any(p.device.type != "cpu" for p in module.parameters()):
        module.to("cpu")
    if any(p.dtype != torch.float32 for p in module.parameters()):  # cast only when needed: diffusers warns
        module.to(torch.float32)
    module.eval()
    module.requires_grad_(False)
    return module

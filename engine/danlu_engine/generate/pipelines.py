"""diffusers pipelines built around the loaded modules (txt2img, img2img, inpaint; SD1/2 and SDXL)."""
from __future__ import annotations

from typing import Literal

PipelineKind = Literal["txt2img", "img2img", "inpaint"]
_CLASSES = {
    "txt2img": ("StableDiffusionPipeline", "StableDiffusionXLPipeline"),
    "img2img": ("StableDiffusionImg2ImgPipeline", "StableDiffusionXLImg2ImgPipeline"),
    "inpaint": ("StableDiffusionInpaintPipeline", "StableDiffusionXLInpaintPipeline"),
}
# with ControlNet units (generate/controlnet.py); inpainting with ControlNet is not wired yet
_CONTROLNET_CLASSES = {
    "txt2img": ("StableDiffusionControlNetPipeline", "StableDiffusionXLControlNetPipeline"),
    "img2img": ("StableDiffusionControlNetImg2ImgPipeline", "StableDiffusionXLControlNetImg2ImgPipeline"),
}


def build_pipeline(model, scheduler, kind: PipelineKind, controlnet=None):
    """controlnet: a (Multi)ControlNetModel for the ControlNet variant of the pipeline, or None."""
    import diffusers

    sd_name, sdxl_name = _CLASSES[kind] if controlnet is None else _CONTROLNET_CLASSES[kind]
    extra = {} if controlnet is None else {"controlnet": controlnet}
    if model.arch == "sdxl":
        pipe = getattr(diffusers, sdxl_name)(
            vae=model.vae, text_encoder=model.text_encoders[0], text_encoder_2=model.text_encoders[1],
            tokenizer=model.tokenizers[0], tokenizer_2=model.tokenizers[1], unet=model.unet, scheduler=scheduler,
            add_watermarker=False, **extra)
    else:
        pipe = getattr(diffusers, sd_name)(
            vae=model.vae, text_encoder=model.text_encoders[0], tokenizer=model.tokenizers[0], unet=model.unet,
            scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False, **extra)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_init_image(path: str, width: int, height: int):
    """The img2img start image, resized to the output size (A1111's "Just resize")."""
    from PIL import Image

    from .inpaint import load_rgb

    return load_rgb(path, "init image").resize((width, height), Image.Resampling.LANCZOS)

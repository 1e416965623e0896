"""diffusers pipelines built around the loaded modules (txt2img and img2img; SD1/2 and SDXL)."""
from __future__ import annotations


def build_pipeline(model, scheduler, img2img: bool):
    import diffusers

    if model.arch == "sdxl":
        cls = diffusers.StableDiffusionXLImg2ImgPipeline if img2img else diffusers.StableDiffusionXLPipeline
        pipe = cls(vae=model.vae, text_encoder=model.text_encoders[0], text_encoder_2=model.text_encoders[1],
                   tokenizer=model.tokenizers[0], tokenizer_2=model.tokenizers[1], unet=model.unet,
                   scheduler=scheduler, add_watermarker=False)
    else:
        cls = diffusers.StableDiffusionImg2ImgPipeline if img2img else diffusers.StableDiffusionPipeline
        pipe = cls(vae=model.vae, text_encoder=model.text_encoders[0], tokenizer=model.tokenizers[0], unet=model.unet,
                   scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_init_image(path: str, width: int, height: int):
    """The img2img start image, resized to the output size (A1111's "Just resize")."""
    from PIL import Image, ImageOps

    from ..protocol import EngineError

    try:
        with Image.open(path) as im:
            image = ImageOps.exif_transpose(im).convert("RGB")
    except OSError as e:
        raise EngineError("BAD_IMAGE", f"init image {path} cannot be read: {e}") from e
    return image.resize((width, height), Image.Resampling.LANCZOS)

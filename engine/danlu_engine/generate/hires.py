"""A1111's hires fix: the first pass's result upscaled (in latent space or as an image), then an img2img pass.

Upscaler names are A1111's (case-insensitive): the latent ones interpolate the latents as A1111's
``latent_upscale_modes`` do; Lanczos and Nearest resize the decoded image. The second pass runs exactly
``steps`` sampling steps, as A1111 does: its schedule has int(steps / denoising) steps and starts that
many steps before the end (so its noise level is steps / schedule length, close to the denoising asked).
"""
from __future__ import annotations

from ..spec import _bad

# A1111 name -> (torch interpolate mode, antialias)
LATENT_UPSCALERS = {
    "Latent": ("bilinear", False),
    "Latent (antialiased)": ("bilinear", True),
    "Latent (bicubic)": ("bicubic", False),
    "Latent (bicubic antialiased)": ("bicubic", True),
    "Latent (nearest)": ("nearest", False),
    "Latent (nearest-exact)": ("nearest-exact", False),
}
IMAGE_UPSCALERS = {"Lanczos": "LANCZOS", "Nearest": "NEAREST"}  # PIL resampling filters


def find_upscaler(name: str, where: str) -> str:
    """The A1111 spelling of ``name``, else a BAD_SPEC error listing the names."""
    for known in [*LATENT_UPSCALERS, *IMAGE_UPSCALERS]:
        if known.lower() == name.lower():
            return known
    raise _bad(where, f"unknown upscaler {name!r} (known: {', '.join([*LATENT_UPSCALERS, *IMAGE_UPSCALERS])})")


def is_latent(name: str) -> bool:
    return find_upscaler(name, "upscaler") in LATENT_UPSCALERS


def upscale_latents(latents, name: str, width: int, height: int):
    """Latents (batch, 4, h, w) resized to the second pass's size in pixels / 8."""
    import torch.nn.functional as F

    mode, antialias = LATENT_UPSCALERS[find_upscaler(name, "upscaler")]
    size = (height // 8, width // 8)
    if mode.startswith("nearest"):  # torch refuses antialias for the nearest modes
        return F.interpolate(latents, size=size, mode=mode)
    return F.interpolate(latents, size=size, mode=mode, antialias=antialias)


def upscale_images(images: list, name: str, width: int, height: int) -> list:
    from PIL import Image

    method = getattr(Image.Resampling, IMAGE_UPSCALERS[find_upscaler(name, "upscaler")])
    return [image.resize((width, height), method) for image in images]


def second_pass_schedule(steps: int, denoising: float) -> tuple[int, float]:
    """(num_inference_steps, strength) for diffusers' img2img so that it runs exactly ``steps`` steps.

    diffusers runs int(num_inference_steps * strength) steps; A1111 runs the requested steps of a schedule of
    int(steps / min(denoising, 0.999)) steps. The strength is nudged up by 1e-6 so the product does not round
    down to steps - 1.
    """
    total = max(steps, int(steps / min(denoising, 0.999)))
    return total, min(1.0, steps / total + 1e-6)

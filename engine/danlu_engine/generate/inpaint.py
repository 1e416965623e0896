"""Inpainting the A1111 way, around diffusers' inpaint pipelines.

One path for inpainting checkpoints (UNet in_channels 9) and ordinary ones (4): diffusers'
StableDiffusion(XL)InpaintPipeline feeds a 9-channel UNet the mask and masked-image latents, and with a
4-channel UNet it blends the original latents back outside the mask after every step (what A1111 does
for ordinary checkpoints). Steps, all A1111's:
  1. the mask (white = repaint) must have the init image's size; it is blurred (Gaussian, sigma mask_blur px);
  2. whole picture: image and mask resized to width x height. Only masked: the blurred mask's box plus
     padding, grown to the width:height aspect, is cut from the full-size image and resized to width x height;
  3. masked content: "fill" paints the masked pixels with the colours around them before encoding; "latent
     noise" / "latent nothing" replace the masked latents with noise / zeros; "original" keeps them;
  4. after sampling, the result (resized back into its box for only masked) is composited over the original
     through the blurred mask: where the blurred mask is 0 the output pixels are the original's, exactly.
The image latents are the VAE's mean (not a sample), so an image depends on its own seed only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from PIL import Image

from ..protocol import EngineError
from .spec import GenJob


@dataclass
class InpaintInputs:
    image: Image.Image  # what the pipeline repaints, width x height (filled when masked content is "fill")
    mask: Image.Image  # "L", width x height, blurred
    original: Image.Image  # the picture the result is composited into (its size is the output's)
    overlay: Image.Image  # "L", original's size: the blurred mask the result is composited through
    box: tuple[int, int, int, int] | None  # only masked: (left, top, right, bottom) in original


def load_rgb(path: str, what: str) -> Image.Image:
    from PIL import ImageOps

    try:
        with Image.open(path) as im:
            return ImageOps.exif_transpose(im).convert("RGB")
    except OSError as e:
        raise EngineError("BAD_IMAGE", f"{what} {path} cannot be read: {e}") from e


def _lowest(band: Image.Image) -> float:
    """The smallest value of a one-band image (whose getextrema is (min, max))."""
    low, _ = cast(tuple[float, float], band.getextrema())
    return low


def load_mask(path: str, size: tuple[int, int], init_path: str) -> Image.Image:
    """The mask as "L" (an RGBA mask's alpha where it has transparency, else its grey level)."""
    from PIL import ImageOps

    try:
        with Image.open(path) as file:
            im = ImageOps.exif_transpose(file)
            has_alpha = im.mode in ("RGBA", "LA") and _lowest(im.getchannel("A")) < 255
            mask = im.getchannel("A") if has_alpha else im.convert("L")
    except OSError as e:
        raise EngineError("BAD_IMAGE", f"mask {path} cannot be read: {e}") from e
    if mask.size != size:
        raise EngineError("BAD_IMAGE", f"the mask {path} is {mask.size[0]}x{mask.size[1]} but the init image "
                          f"{init_path} is {size[0]}x{size[1]}; draw the mask on the init image itself (same width "
                          "and height), or resize it to match")
    return mask


def blur_mask(mask: Image.Image, sigma: int) -> Image.Image:
    """Separable Gaussian blur with A1111's kernel reach: int(2.5 * sigma + 0.5) px each side."""
    if sigma <= 0:
        return mask
    reach = int(2.5 * sigma + 0.5)
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    values = np.asarray(mask, dtype=np.float64)
    for axis in (0, 1):
        padded = np.pad(values, [(reach, reach) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        values = sum(w * np.take(padded, range(k, k + values.shape[axis]), axis=axis) for k, w in enumerate(kernel))
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")


def crop_box(mask: Image.Image, padding: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The mask's nonzero box plus padding, grown to width:height's aspect and kept inside the image."""
    box = mask.getbbox()
    if box is None:
        raise EngineError("BAD_IMAGE", "the mask is all black: nothing to inpaint (paint the area to redo white)")
    full_w, full_h = mask.size
    left, top = max(box[0] - padding, 0), max(box[1] - padding, 0)
    right, bottom = min(box[2] + padding, full_w), min(box[3] + padding, full_h)
    w, h = right - left, bottom - top
    if w / h < width / height:  # too tall for the target: widen
        left, right = _grow(left, right, round(h * width / height), full_w)
    else:
        top, bottom = _grow(top, bottom, round(w * height / width), full_h)
    return left, top, right, bottom


def _grow(lo: int, hi: int, size: int, limit: int) -> tuple[int, int]:
    """[lo, hi) widened evenly to ``size`` (at most ``limit``), shifted back inside [0, limit)."""
    size = min(size, limit)
    lo -= (size - (hi - lo)) // 2
    lo = min(max(lo, 0), limit - size)
    return lo, lo + size


def fill_masked(image: Image.Image, mask: Image.Image) -> Image.Image:
    """A1111's "fill": masked pixels get the colours around them, from coarse to fine (a normalised blur of
    the unmasked pixels at radii 64, 16, 4, 1 px), the unmasked pixels unchanged."""
    from PIL import ImageFilter

    keep = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    pixels = np.asarray(image, dtype=np.float32)
    known = 1.0 - keep
    out = pixels * known
    for radius in (64, 16, 4, 1):
        weight = np.asarray(Image.fromarray((known[..., 0] * 255).astype(np.uint8), "L").filter(
            ImageFilter.GaussianBlur(radius)), dtype=np.float32)[..., None] / 255.0
        spread = np.stack([np.asarray(Image.fromarray(np.clip(out[..., c], 0, 255).astype(np.uint8), "L").filter(
            ImageFilter.GaussianBlur(radius)), dtype=np.float32) for c in range(3)], axis=-1)
        guess = np.where(weight > 1e-3, spread / np.maximum(weight, 1e-3), out)
        out = pixels * (1.0 - keep) + np.clip(guess, 0, 255) * keep
        known = np.maximum(known, (weight > 1e-3).astype(np.float32))
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")


def prepare(job: GenJob) -> InpaintInputs:
    spec, init_path = job.inpaint, job.init_image
    assert spec is not None and init_path is not None, "an inpaint job (the spec check requires init_image)"
    init = load_rgb(init_path, "init image")
    mask = blur_mask(load_mask(spec.mask, init.size, init_path), spec.mask_blur)
    size = (job.width, job.height)
    if spec.only_masked:
        box = crop_box(mask, spec.padding, job.width, job.height)
        image = init.crop(box).resize(size, Image.Resampling.LANCZOS)
        region = mask.crop(box).resize(size, Image.Resampling.LANCZOS)
        original, overlay = init, mask
    else:
        box = None
        image = init.resize(size, Image.Resampling.LANCZOS)
        region = mask.resize(size, Image.Resampling.LANCZOS)
        original, overlay = image, region
    if region.getbbox() is None:
        raise EngineError("BAD_IMAGE", "the mask is all black: nothing to inpaint (paint the area to redo white)")
    if spec.masked_content == "fill":
        image = fill_masked(image, region)
    return InpaintInputs(image=image, mask=region, original=original, overlay=overlay, box=box)


def composite(result: Image.Image, inputs: InpaintInputs) -> Image.Image:
    """The repainted picture: the result through the blurred mask over the original (unmasked pixels exact)."""
    placed = result
    if inputs.box is not None:
        left, top, right, bottom = inputs.box
        placed = inputs.original.copy()
        placed.paste(result.resize((right - left, bottom - top), Image.Resampling.LANCZOS), (left, top))
    return Image.composite(placed, inputs.original, inputs.overlay)


def _to_tensor(image: Image.Image) -> torch.Tensor:
    """(1, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]


@torch.no_grad()
def pipeline_latents(vae, inputs: InpaintInputs, masked_content: str, generators: list, device, dtype):
    """(image_latents per image, masked_image_latents) for the inpaint pipeline's ``image`` and
    ``masked_image_latents``: the VAE mean of the image and of the image with the mask grey (what a 9-channel
    UNet is conditioned on); latent noise / nothing applied to the masked latents (mask rounded at latent size,
    as A1111 does)."""
    def encode(pixels: torch.Tensor) -> torch.Tensor:
        return vae.encode(pixels.to(device, vae.dtype)).latent_dist.mode() * vae.config.scaling_factor

    pixels = _to_tensor(inputs.image)
    binary = torch.from_numpy(np.asarray(inputs.mask, dtype=np.float32) / 255.0 >= 0.5)[None, None]
    latents = encode(pixels)
    masked = encode(pixels * ~binary)
    h, w = latents.shape[-2:]
    small = inputs.mask.resize((w, h), Image.Resampling.BILINEAR)
    m = torch.from_numpy(np.rint(np.asarray(small, dtype=np.float32) / 255.0))[None, None].to(device, latents.dtype)
    per_image = []
    for g in generators:
        if masked_content == "latent-noise":
            noise = torch.randn(latents.shape, generator=g, dtype=torch.float32).to(device, latents.dtype)
            per_image.append(latents * (1 - m) + noise * m)
        elif masked_content == "latent-nothing":
            per_image.append(latents * (1 - m))
        else:
            per_image.append(latents)
    return torch.cat(per_image).to(dtype), masked.to(dtype)

"""Images as the plan describes them: open, EXIF-orient, resize to ``resized``, crop to ``bucket``.

TypeScript decided every size; this file only executes it and refuses an image whose size no longer
matches the plan (it changed on disk after planning).
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps

from ..protocol import EngineError
from ..spec import ImageSpec


def _open_planned(image: ImageSpec) -> Image.Image:
    """The file opened and EXIF-oriented, refused when its size is not the planned one."""
    try:
        with Image.open(image.path) as opened:
            pil = ImageOps.exif_transpose(opened)
            pil.load()
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for broken files
        raise EngineError("BAD_IMAGE", f"cannot read image {image.path}: {e}", "re-export or remove the file") from e
    if pil.size != (image.width, image.height):
        raise EngineError(
            "BAD_IMAGE",
            f"image {image.path} is {pil.size[0]}x{pil.size[1]}, the plan says {image.width}x{image.height}",
            "the file changed after planning: run the command again so the plan is rebuilt",
        )
    return pil


def _fit(pil: Image.Image, image: ImageSpec) -> Image.Image:
    """Resize to ``resized`` and crop to the bucket, as planned."""
    resized = (image.resized[0], image.resized[1])
    if pil.size != resized:
        pil = pil.resize(resized, Image.Resampling.LANCZOS)
    left, top = image.crop
    w, h = image.bucket
    return pil.crop((left, top, left + w, top + h))


def load_pixels(image: ImageSpec) -> torch.Tensor:
    """The image at its bucket size as a float tensor [3, h, w] in [-1, 1] (the VAE's input range)."""
    pil = _fit(_open_planned(image).convert("RGB"), image)
    array = np.asarray(pil, dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1).div(127.5).sub(1.0)


def load_alpha_mask(image: ImageSpec) -> torch.Tensor | None:
    """The image's alpha channel at its bucket size as [h, w] in [0, 1] (resized and cropped like the
    pixels), or None when the file has no transparency (sd-scripts then uses a mask of ones)."""
    pil = _open_planned(image)
    if pil.mode == "P" and "transparency" in pil.info:
        pil = pil.convert("RGBA")
    if "A" not in pil.getbands():
        return None
    alpha = _fit(pil.getchannel("A"), image)
    return torch.from_numpy(np.asarray(alpha, dtype=np.float32) / 255.0)


def sdxl_time_ids(image: ImageSpec, flipped: bool = False) -> tuple[int, int, int, int, int, int]:
    """SDXL's size conditioning as sd-scripts computes it (library/train_util.py, read for the facts):
    original (h, w) = the file's size before resizing; target (h, w) = the bucket; crop top-left = where
    the whole image would sit if scaled to fit inside the bucket (Stability AI's preprocessing), not the
    centre crop actually taken. A flipped image's left is measured from the bucket's right edge."""
    bucket_w, bucket_h = image.bucket
    left, top, right = _fitted_offsets(image.bucket, (image.width, image.height))
    if flipped:
        left = bucket_w - right
    return (image.height, image.width, int(top), int(left), bucket_h, bucket_w)


def _fitted_offsets(bucket: tuple[int, int], size: tuple[int, int]) -> tuple[float, float, float]:
    """(left, top, right) in pixels of an image of ``size`` scaled to fit inside ``bucket``, centred."""
    bucket_ratio, image_ratio = bucket[0] / bucket[1], size[0] / size[1]
    fitted_w: float
    fitted_h: float
    if bucket_ratio > image_ratio:  # the bucket is wider: the heights match
        fitted_w, fitted_h = bucket[1] * image_ratio, bucket[1]
    else:
        fitted_w, fitted_h = bucket[0], bucket[0] / image_ratio
    left = (bucket[0] - fitted_w) // 2
    top = (bucket[1] - fitted_h) // 2
    return left, top, left + fitted_w

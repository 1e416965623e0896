"""The A1111 ``parameters`` PNG text (what A1111's PNG Info and Civitai read) and the LoRA short hash."""
from __future__ import annotations

import hashlib
import json
import os
import struct

from PIL.PngImagePlugin import PngInfo

from .spec import GenJob


def lora_short_hash(path: str) -> str:
    """A1111's LoRA hash: ``sshs_model_hash`` from the metadata, else SHA-256 of the bytes after the
    safetensors header (the "addnet" hash); the first 12 hex digits."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        stored = (header.get("__metadata__") or {}).get("sshs_model_hash")
        if stored:
            return stored[:12]
        digest = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def parameters_text(job: GenJob, seed: int, sampler_name: str, model_name: str, model_hash: str,
                    lora_hashes: dict[str, str], extra: list[str] | None = None) -> str:
    """A1111's wording and order. "Size" is the sampled size: the first pass's with hires fix (the final size
    is Size x Hires upscale), the repainted box's with only-masked inpainting. "Masked content" is written only
    when it is not A1111's default, original (A1111 itself does not write it). extra: more "Key: value" fields."""
    fields = [f"Steps: {job.steps}", f"Sampler: {sampler_name}", f"CFG scale: {job.cfg:g}", f"Seed: {seed}",
              f"Size: {job.width}x{job.height}"]
    if model_hash and all(c in "0123456789abcdef" for c in model_hash.lower()):
        fields.append(f"Model hash: {model_hash[:10]}")
    fields.append(f"Model: {model_name}")
    if job.init_image:
        fields.append(f"Denoising strength: {job.strength:g}")
    elif job.hires:
        fields.append(f"Denoising strength: {job.hires.denoising:g}")
    fields.append(f"Clip skip: {job.clip_skip}")
    fields += _inpaint_fields(job) + _hires_fields(job)
    fields += extra or []  # ControlNet units (generate/controlnet.py), before the LoRA hashes as in A1111
    if lora_hashes:
        fields.append('Lora hashes: "' + ", ".join(f"{n}: {h}" for n, h in lora_hashes.items()) + '"')
    lines = [job.prompt.text]
    if job.negative.text:
        lines.append(f"Negative prompt: {job.negative.text}")
    return "\n".join(lines + [", ".join(fields)])


def save_png(image, path: str, parameters: str) -> None:
    info = PngInfo()
    info.add_text("parameters", parameters)
    tmp = path + ".tmp"
    image.save(tmp, format="PNG", pnginfo=info)
    os.replace(tmp, path)


MASKED_CONTENT = {"fill": "fill", "original": "original", "latent-noise": "latent noise", "latent-nothing": "latent nothing"}


def _inpaint_fields(job: GenJob) -> list[str]:
    if job.inpaint is None:
        return []
    fields = [f"Mask blur: {job.inpaint.mask_blur}"]
    if job.inpaint.masked_content != "original":
        fields.append(f"Masked content: {MASKED_CONTENT[job.inpaint.masked_content]}")
    if job.inpaint.only_masked:
        fields += ["Inpaint area: Only masked", f"Masked area padding: {job.inpaint.padding}"]
    return fields


def _hires_fields(job: GenJob) -> list[str]:
    from .hires import find_upscaler

    if job.hires is None:
        return []
    fields = [f"Hires upscale: {job.hires.scale:g}"]
    if job.hires.steps:
        fields.append(f"Hires steps: {job.hires.steps}")
    return fields + [f"Hires upscaler: {find_upscaler(job.hires.upscaler, 'hires.upscaler')}"]

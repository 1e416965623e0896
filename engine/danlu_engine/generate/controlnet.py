"""ControlNet units in generation (A1111's "ControlNet N"): the models (each loaded once per run, checked
against the base model), the maps resized to the sampled size, the diffusers call arguments, and the
PNG text in sd-webui-controlnet's wording.

Weight is diffusers' ``controlnet_conditioning_scale`` (the residuals are multiplied by it, so 0 adds
exact zeros: the image equals the one without ControlNet); start/end are ``control_guidance_start/end``,
fractions of the sampling steps. Maps come preprocessed from TypeScript at the job's size; a map of
another aspect is centre-cropped then resized (A1111's "Crop and Resize").
"""
from __future__ import annotations

import os

from PIL import Image

from ..protocol import EngineError, emit
from .spec import ControlNetUnit, GenJob

RESIZE_MODE = "Crop and Resize"  # the one mode danlu implements (A1111's default)


def crop_and_resize(image: Image.Image, width: int, height: int) -> Image.Image:
    """Centre crop to width:height, then resize (Lanczos); a map of the right size is returned as is."""
    if image.size == (width, height):
        return image
    w, h = image.size
    scale = max(width / w, height / h)
    cw, ch = round(width / scale), round(height / scale)
    left, top = (w - cw) // 2, (h - ch) // 2
    return image.crop((left, top, left + cw, top + ch)).resize((width, height), Image.Resampling.LANCZOS)


def model_short_hash(path: str) -> str:
    """A1111's short model hash (what sd-webui-controlnet prints in brackets): SHA-256 of 64 KiB at 1 MiB,
    8 hex digits; for a diffusers folder, of its weights file."""
    from ..models.loader import legacy_hash

    if os.path.isdir(path):
        names = sorted(f for f in os.listdir(path) if f.startswith("diffusion_pytorch_model"))
        if not names:
            return "00000000"
        path = os.path.join(path, names[0])
    return legacy_hash(path)


class ControlNets:
    """The run's ControlNet models by path (one load each), and the maps of the current job."""

    def __init__(self, model, device, dtype):
        self.model, self.device, self.dtype = model, device, dtype
        self.loaded: dict[str, object] = {}
        self.hashes: dict[str, str] = {}

    def _load(self, unit: ControlNetUnit):
        from ..models.controlnet import check_fits, load_controlnet

        if unit.model not in self.loaded:
            arch, net = load_controlnet(unit.model)
            check_fits(unit.name, arch, net, self.model.unet)
            self.loaded[unit.model] = net.to(self.device, self.dtype)
            self.hashes[unit.model] = model_short_hash(unit.model)
            emit("log", level="info", message=f"ControlNet {unit.name} ({arch}) loaded")
        return self.loaded[unit.model]

    def for_job(self, job: GenJob) -> JobControl | None:
        if not job.controlnets:
            return None
        from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel

        from .inpaint import load_rgb

        nets = [self._load(u) for u in job.controlnets]
        maps = [load_rgb(u.image, "ControlNet map") for u in job.controlnets]
        return JobControl(job.controlnets, MultiControlNetModel(nets), maps)

    def png_fields(self, job: GenJob) -> list[str]:
        return [unit_text(k, u, self.hashes.get(u.model, "")) for k, u in enumerate(job.controlnets)]


class JobControl:
    def __init__(self, units: list[ControlNetUnit], net, maps: list[Image.Image]):
        self.units, self.net, self.maps = units, net, maps

    def call_args(self, width: int, height: int, image_key: str) -> dict:
        """diffusers arguments: image_key is "image" (txt2img) or "control_image" (img2img)."""
        return {
            image_key: [crop_and_resize(m, width, height) for m in self.maps],
            "controlnet_conditioning_scale": [u.weight for u in self.units],
            "control_guidance_start": [u.start for u in self.units],
            "control_guidance_end": [u.end for u in self.units],
        }


def unit_text(index: int, unit: ControlNetUnit, short_hash: str) -> str:
    """sd-webui-controlnet's PNG entry: ControlNet 0: "Module: ..., Model: NAME [HASH], Weight: 1.0, ..."."""
    if '"' in unit.name:
        raise EngineError("BAD_SPEC", f"ControlNet name {unit.name!r} contains a double quote")
    model = f"{unit.name} [{short_hash}]" if short_hash else unit.name
    parts = [f"Module: {unit.module}", f"Model: {model}", f"Weight: {float(unit.weight)}", f"Resize Mode: {RESIZE_MODE}",
             f"Processor Res: {unit.processor_res}", f"Threshold A: {float(unit.threshold_a)}",
             f"Threshold B: {float(unit.threshold_b)}", f"Guidance Start: {float(unit.start)}",
             f"Guidance End: {float(unit.end)}", "Pixel Perfect: False", "Control Mode: Balanced"]
    return f'ControlNet {index}: "' + ", ".join(parts) + '"'

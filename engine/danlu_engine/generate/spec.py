"""The generate spec (``generateSpec`` in src/engine/spec.ts) parsed into typed dataclasses; unknown or
missing keys are BAD_SPEC errors naming the key (pydantic, through the train spec's parse_spec)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..spec import ModelSpec, _bad, parse_spec


@dataclass(frozen=True)
class Segment:
    text: str
    weight: float


@dataclass(frozen=True)
class ParsedPrompt:
    text: str  # as the user wrote it (PNG text)
    sections: list[list[Segment]]  # parts between BREAKs; each starts a new 75-token chunk


@dataclass(frozen=True)
class GenLora:
    path: str
    name: str
    unet_weight: float
    te_weight: float


@dataclass(frozen=True)
class InpaintSpec:
    """Inpainting of ``init_image`` (A1111's img2img inpaint tab); see generate/inpaint.py."""
    mask: str  # white (255) = repaint, black = keep; the init image's size
    mask_blur: int  # Gaussian blur of the mask, px (A1111 "Mask blur")
    masked_content: Literal["original", "fill", "latent-noise", "latent-nothing"]
    only_masked: bool  # A1111 "Inpaint area: Only masked": repaint the mask's box at width x height
    padding: int  # px around the mask's box with only_masked (A1111 "Only masked padding, pixels")


@dataclass(frozen=True)
class HiresSpec:
    """A1111's hires fix (txt2img only): the first pass at width x height, upscaled, then an img2img pass."""
    scale: float  # A1111 "Hires upscale" (written in the PNG text)
    width: int  # the second pass's size: width x scale, rounded down to a multiple of 8 (TypeScript computes it)
    height: int
    steps: int  # the second pass's sampling steps; 0: the first pass's steps
    denoising: float  # the second pass's denoising strength, in (0, 1]
    upscaler: str  # "Latent", "Latent (nearest)", ..., "Lanczos", "Nearest" (generate/hires.py)


@dataclass(frozen=True)
class ControlNetUnit:
    """One ControlNet unit (A1111's "ControlNet N"); see generate/controlnet.py."""
    model: str  # a diffusers ControlNet folder or a single file (A1111 or diffusers keys)
    name: str  # the model's name in the PNG text ("control_v11p_sd15_openpose")
    image: str  # the control map the ControlNet sees (preprocessed by TypeScript, or the user's own map)
    module: str  # the preprocessor in A1111's wording ("openpose_full", "canny", "none"), for the PNG text
    weight: float  # controlnet_conditioning_scale; 0: no effect
    start: float  # control_guidance_start: the fraction of the steps where the unit starts acting
    end: float  # control_guidance_end
    processor_res: int  # the preprocessor's resolution, px (PNG text)
    threshold_a: float  # the preprocessor's first and second parameter (canny: low/high), PNG text
    threshold_b: float


@dataclass(frozen=True)
class GenJob:
    prompt: ParsedPrompt
    negative: ParsedPrompt
    loras: list[GenLora]
    sampler: str
    steps: int
    cfg: float
    width: int
    height: int
    seed: int
    batch_count: int
    batch_size: int
    clip_skip: int
    init_image: str | None
    strength: float
    file_prefix: str
    inpaint: InpaintSpec | None  # with init_image: repaint the mask only
    hires: HiresSpec | None  # txt2img only
    controlnets: list[ControlNetUnit]  # A1111's ControlNet units, in order (txt2img, img2img, hires fix)


@dataclass(frozen=True)
class OutputSpec:
    dir: str


@dataclass(frozen=True)
class GenerateSpec:
    version: Literal[1]
    model: ModelSpec
    device: Literal["auto", "cpu", "cuda"]
    precision: Literal["no", "fp16", "bf16"]
    embeddings: list[str]
    output: OutputSpec
    jobs: list[GenJob]


def parse_generate_spec(raw: Any) -> GenerateSpec:
    spec = parse_spec(raw, GenerateSpec)
    if not spec.jobs:
        raise _bad("jobs", "needs at least one job")
    prefixes = set()
    for i, job in enumerate(spec.jobs):
        if job.width % 8 or job.height % 8:
            raise _bad(f"jobs[{i}].width", f"{job.width}x{job.height} is not a multiple of 8")
        if not 0 <= job.strength <= 1:
            raise _bad(f"jobs[{i}].strength", f"{job.strength} is not between 0 and 1")
        _check_features(i, job)
        if not job.file_prefix or "/" in job.file_prefix or "\\" in job.file_prefix or job.file_prefix in prefixes:
            raise _bad(f"jobs[{i}].file_prefix", f"{job.file_prefix!r} must be a unique plain file name part")
        prefixes.add(job.file_prefix)
    return spec


def _check_features(i: int, job: GenJob) -> None:
    """Cross-field rules of the optional blocks (the TypeScript side refuses the same with CLI wording)."""
    from .hires import find_upscaler

    if job.inpaint is not None:
        if job.init_image is None:
            raise _bad(f"jobs[{i}].inpaint", "needs init_image (the image the mask applies to)")
        if job.inpaint.mask_blur < 0 or job.inpaint.padding < 0:
            raise _bad(f"jobs[{i}].inpaint", "mask_blur and padding must be >= 0")
    if job.hires is not None:
        hr = job.hires
        if job.init_image is not None:
            raise _bad(f"jobs[{i}].hires", "is for txt2img; img2img and inpainting have no hires pass")
        if hr.width % 8 or hr.height % 8 or hr.width < job.width or hr.height < job.height:
            raise _bad(f"jobs[{i}].hires", f"size {hr.width}x{hr.height} must be multiples of 8, at least the first pass's")
        if not 0 < hr.denoising <= 1 or hr.steps < 0:
            raise _bad(f"jobs[{i}].hires", f"denoising {hr.denoising} must be in (0, 1] and steps {hr.steps} >= 0")
        find_upscaler(hr.upscaler, f"jobs[{i}].hires.upscaler")
    for k, unit in enumerate(job.controlnets):
        if unit.weight < 0 or not 0 <= unit.start < unit.end <= 1:
            raise _bad(f"jobs[{i}].controlnets[{k}]", f"weight {unit.weight:g} must be >= 0 and 0 <= start "
                       f"{unit.start:g} < end {unit.end:g} <= 1")
    if job.controlnets and job.inpaint is not None:
        raise _bad(f"jobs[{i}].controlnets", "ControlNet with inpainting is not supported yet; use txt2img or img2img")

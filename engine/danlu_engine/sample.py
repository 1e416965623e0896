"""Sample images during training with a diffusers pipeline built from the loaded (LoRA-hooked) modules.

Sampler names: sd-scripts' (ddim, pndm, lms, euler, euler_a, heun, dpm_2, dpm_2_a, dpmsolver,
dpmsolver++, dpmsingle, k_* aliases) plus A1111-style ones (dpm++2m, dpm++2m_karras, ...), mapped to
diffusers schedulers as REFERENCE.md section 5 lists. PNGs carry an A1111 ``parameters`` text chunk.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
from PIL.PngImagePlugin import PngInfo

from .protocol import EngineError, emit
from .spec import SamplePrompt


@dataclass(frozen=True)
class Sampler:
    scheduler: str  # diffusers class name
    options: dict
    a1111: str  # the name A1111 shows in its parameters text


_DPM = {"algorithm_type": "dpmsolver++"}
SAMPLERS: dict[str, Sampler] = {
    "ddim": Sampler("DDIMScheduler", {}, "DDIM"),
    "pndm": Sampler("PNDMScheduler", {}, "PLMS"),
    "lms": Sampler("LMSDiscreteScheduler", {}, "LMS"),
    "lms_karras": Sampler("LMSDiscreteScheduler", {"use_karras_sigmas": True}, "LMS Karras"),
    "euler": Sampler("EulerDiscreteScheduler", {}, "Euler"),
    "euler_a": Sampler("EulerAncestralDiscreteScheduler", {}, "Euler a"),
    "heun": Sampler("HeunDiscreteScheduler", {}, "Heun"),
    "dpm_2": Sampler("KDPM2DiscreteScheduler", {}, "DPM2"),
    "dpm_2_a": Sampler("KDPM2AncestralDiscreteScheduler", {}, "DPM2 a"),
    "dpmsolver": Sampler("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver"}, "DPM2M"),
    "dpmsolver++": Sampler("DPMSolverMultistepScheduler", _DPM, "DPM++ 2M"),
    "dpm++2m": Sampler("DPMSolverMultistepScheduler", _DPM, "DPM++ 2M"),
    "dpm++2m_karras": Sampler("DPMSolverMultistepScheduler", {**_DPM, "use_karras_sigmas": True}, "DPM++ 2M Karras"),
    "dpm++2m_sde": Sampler("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}, "DPM++ 2M SDE"),
    "dpm++2m_sde_karras": Sampler(
        "DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True}, "DPM++ 2M SDE Karras"
    ),
    "dpmsingle": Sampler("DPMSolverSinglestepScheduler", {}, "DPM++ 2S"),
    "unipc": Sampler("UniPCMultistepScheduler", {}, "UniPC"),
    "ddpm": Sampler("DDPMScheduler", {}, "DDPM"),
}
for _name in ("lms", "euler", "euler_a", "dpm_2", "dpm_2_a"):
    SAMPLERS[f"k_{_name}"] = SAMPLERS[_name]
_NEEDS = {"LMSDiscreteScheduler": "scipy"}  # schedulers that import an optional package


def check_sampler(name: str, where: str) -> Sampler:
    sampler = SAMPLERS.get(name.lower())
    if sampler is None:
        raise EngineError("BAD_SPEC", f"spec key {where}: unknown sampler {name!r}", f"use one of: {', '.join(SAMPLERS)}")
    package = _NEEDS.get(sampler.scheduler)
    if package:
        import importlib.util

        if importlib.util.find_spec(package) is None:
            raise EngineError(
                "BAD_SPEC", f"spec key {where}: sampler {name!r} needs the {package} package", "use euler or dpm++2m"
            )
    return sampler


def make_scheduler(name: str, training_scheduler):
    import diffusers

    sampler = check_sampler(name, "sample.prompts[].sampler")
    cls = getattr(diffusers, sampler.scheduler)
    # steps_offset 1: what the published SD/SDXL scheduler configs say (the DDPM training schedule has 0)
    return cls.from_config(training_scheduler.config, steps_offset=1, **sampler.options)


def build_pipeline(model, scheduler):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if model.arch == "sdxl":
        return StableDiffusionXLPipeline(
            vae=model.vae, text_encoder=model.text_encoders[0], text_encoder_2=model.text_encoders[1],
            tokenizer=model.tokenizers[0], tokenizer_2=model.tokenizers[1], unet=model.unet, scheduler=scheduler,
            add_watermarker=False,
        )
    return StableDiffusionPipeline(
        vae=model.vae, text_encoder=model.text_encoders[0], tokenizer=model.tokenizers[0], unet=model.unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )


def a1111_parameters(p: SamplePrompt, model_name: str, model_hash: str | None, clip_skip: int) -> str:
    sampler = check_sampler(p.sampler, "sample.prompts[].sampler").a1111
    fields = [f"Steps: {p.steps}", f"Sampler: {sampler}", f"CFG scale: {p.scale:g}", f"Seed: {p.seed}",
              f"Size: {p.width}x{p.height}"]
    if model_hash and all(c in "0123456789abcdef" for c in model_hash.lower()):
        fields.append(f"Model hash: {model_hash[:10]}")
    fields += [f"Model: {model_name}", f"Clip skip: {clip_skip}"]
    return f"{p.prompt}\nNegative prompt: {p.negative_prompt}\n{', '.join(fields)}"


class TrainingSampler:
    """Draws spec.sample.prompts with the model as it is now; writes {dir}/sample/*.png; emits events."""

    def __init__(self, model, text, prompts: list[SamplePrompt], out_dir: str, name: str, device, precision,
                 clip_skip: int, model_name: str, model_hash: str | None, trainable: list[torch.nn.Module]):
        # text: the training TextConditioner, so samples see prompts exactly as training saw captions
        self.model, self.text, self.prompts = model, text, prompts
        self.out_dir, self.name = os.path.join(out_dir, "sample"), name
        self.device, self.precision, self.clip_skip = device, precision, clip_skip
        self.model_name, self.model_hash, self.trainable = model_name, model_hash, trainable

    def file_name(self, kind: str, epoch: int, step: int, index: int) -> str:
        tag = f"s{step:08d}" if kind == "step" else f"e{epoch:06d}"
        return f"{self.name}_{tag}_{index:02d}.png"

    def __call__(self, epoch: int, step: int, kind: str) -> None:
        emit("phase", name="sample", current=0, total=len(self.prompts))
        modes = [(m, m.training) for m in self.trainable]
        for m, _ in modes:
            m.eval()
        try:
            for index, prompt in enumerate(self.prompts):
                path = os.path.join(self.out_dir, self.file_name(kind, epoch, step, index))
                self._draw(prompt, path)
                emit("sample", path=path, prompt_index=index, epoch=epoch, step=step)
                emit("phase", name="sample", current=index + 1, total=len(self.prompts))
        finally:
            for m, was_training in modes:
                m.train(was_training)
            emit("phase", name="train", current=step, total=None)

    def _autocast(self):
        if not self.precision.autocast:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.precision.weight)

    def _embeddings(self, p: SamplePrompt) -> dict:
        hidden, pooled = self.text.encode_uncached([p.prompt, p.negative_prompt])
        embeds = {"prompt_embeds": hidden[:1], "negative_prompt_embeds": hidden[1:]}
        if pooled is not None:
            embeds |= {"pooled_prompt_embeds": pooled[:1], "negative_pooled_prompt_embeds": pooled[1:]}
        return embeds

    @torch.no_grad()
    def _draw(self, p: SamplePrompt, path: str) -> None:
        pipe = build_pipeline(self.model, make_scheduler(p.sampler, self.model.noise_scheduler))
        pipe.set_progress_bar_config(disable=True)
        generator = torch.Generator(device="cpu").manual_seed(p.seed)
        with self._autocast():
            image = pipe(**self._embeddings(p), width=p.width, height=p.height, num_inference_steps=p.steps,
                         guidance_scale=p.scale, generator=generator).images[0]
        info = PngInfo()
        info.add_text("parameters", a1111_parameters(p, self.model_name, self.model_hash, self.clip_skip))
        os.makedirs(self.out_dir, exist_ok=True)
        tmp = path + ".tmp"
        image.save(tmp, format="PNG", pnginfo=info)
        os.replace(tmp, path)
